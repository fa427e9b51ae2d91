import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSyntax

/// `ensemble` and `fuse`: calls that write candidates, one node per sample
/// (or per request with `n`), and the step that gathers them into the pool.
struct GeneratingExecutor: NodeExecutor {
    var operations: [NodeOperation] { [.generate, .fuse, .collect] }

    func run(_ context: NodeContext) async throws -> NodeOutput {
        context.node.operation == .collect ? .pool(try collect(context)) : try await generate(context)
    }

    /// One sample of an ensemble or fuse entry, with its own seed.
    func generate(_ context: NodeContext) async throws -> NodeOutput {
        let isFuse = context.layer.kind == .fuse
        let pool = context.pool
        if isFuse, pool.candidates.isEmpty { return .skipped }
        guard let spec = context.node.call else { return .skipped }
        let messages: [ChatMessage]
        if isFuse {
            let instructions = PromptRenderer.poolPrompt(
                spec.prompt, query: PromptRenderer.queryText(context.messages), pool: pool.candidates, critiques: true,
                extra: ["length_control": context.layer.lengthControl ? PromptTemplate.lengthControlSentence : ""], task: .system)
            messages = instructions + context.messages
        } else {
            messages = [.system(spec.prompt)] + context.messages
        }
        let sample = spec.sample ?? 0
        let name = context.modelNames[spec.model]
        if spec.completions > 1 {
            let results = await context.calls.replies(spec, messages: messages, candidate: nil)
            if Task.isCancelled { throw CancellationError() }
            return .samples(
                zip(sample..., results).map { index, result in
                    candidate(result, origin: "\(name)#\(index)", spec: spec, calls: context.calls)
                })
        }
        // The last layer's only call streams its text as it comes.
        let streamThis = context.layerCalls == 1 ? context.onDelta : nil
        let result = await context.calls.reply(spec, messages: messages, candidate: nil, onDelta: streamThis)
        if Task.isCancelled { throw CancellationError() }
        return .generated(candidate(result, origin: "\(name)#\(sample)", spec: spec, calls: context.calls))
    }

    /// A sample's reply as a candidate, or why it was dropped (noted either way when it matters).
    func candidate(_ result: Result<CallReply, ProviderError>, origin: String, spec: CallSpec, calls: LayerContext) -> Result<Candidate, FailedCall> {
        switch result {
        case .success(let reply):
            if reply.truncated { calls.note("\(origin) stopped at max_tokens (\(spec.sampling.maxTokens))") }
            return .success(Candidate(text: reply.text, origin: origin, truncated: reply.truncated ? true : nil, confidence: reply.confidence))
        case .failure(let error):
            calls.note("dropped \(origin): \(error)")
            return .failure(FailedCall(reason: "\(origin): \(error)"))
        }
    }

    /// The layer's candidates in call order; when every call failed, what its `on_failure` says.
    func collect(_ context: NodeContext) throws -> Pool {
        let layer = context.layer
        let given = context.pool
        if layer.kind != .ensemble, given.candidates.isEmpty { throw QueryFailure(reason: "no candidates to work on") }
        var candidates: [Candidate] = [], calls: [Int] = []
        var failures: [String] = []
        // Calls in graph order; one not made (a quorum was met, a vote stopped early) is `.skipped`.
        let callOutputs = layer.kind == .ensemble ? context.inputs[...] : context.inputs.dropFirst()
        // A position per sample: a call with several completions takes several.
        var position = 0
        for output in callOutputs {
            for result in output.generatedSamples {
                switch result {
                case .success(let candidate):
                    calls.append(position)
                    candidates.append(candidate)
                case .failure(let failed):
                    failures.append(failed.reason)
                }
                position += 1
            }
            if case .skipped = output { position += 1 }
        }
        if candidates.isEmpty {
            let reason = "every call failed (\(failures.first ?? "no calls"))"
            let fallback = try LayerFallback.apply(layer, pool: given.candidates, reason: reason, context: context.calls)
            if let first = fallback.first?.text { context.onDelta?(first) }
            return Pool(candidates: fallback, calls: nil)
        }
        // A single call streamed its text as it came; several show the first candidate once known.
        if context.layerCalls != 1, let first = candidates.first?.text { context.onDelta?(first) }
        return Pool(candidates: candidates, calls: calls)
    }
}
