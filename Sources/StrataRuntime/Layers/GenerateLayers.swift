import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSandbox
import StrataSyntax

/// `ensemble` and `fuse`: calls that write candidates, one node per sample
/// (or per request with `n`), and the step that gathers them into the pool.
extension QueryRun {
    /// One sample of an ensemble or fuse entry, with its own seed.
    func generate(_ node: GraphNode, layer: LayerSpec, pool: Pool, context: LayerContext) async throws -> NodeOutput {
        let isFuse = layer.kind == .fuse
        if isFuse, pool.candidates.isEmpty { return .skipped }
        guard let spec = node.call else { return .skipped }
        let template = spec.prompt
        let messages: [ChatMessage]
        if isFuse {
            let prompt = PromptRenderer.render(
                template,
                [
                    "query": PromptRenderer.queryText(queryMessages),
                    "candidates": PromptRenderer.candidatesText(pool.candidates, critiques: true),
                    "n": String(pool.candidates.count),
                    "length_control": layer.lengthControl ? PromptTemplate.lengthControlSentence : "",
                ])
            messages = [.system(prompt)] + queryMessages
        } else {
            messages = [.system(template)] + queryMessages
        }
        let sample = spec.sample ?? 0
        let name = runtime.graph.models[spec.model].name
        if spec.completions > 1 {
            let results = await context.replies(spec, messages: messages, candidate: nil)
            if Task.isCancelled { throw CancellationError() }
            return .samples(
                zip(sample..., results).map { index, result in
                    candidate(result, origin: "\(name)#\(index)", spec: spec, context: context)
                })
        }
        let isLast = plan.layerOf[node.id] == runtime.graph.layers.count - 1
        let streamThis = isLast && plan.callCounts[plan.layerOf[node.id]] == 1 ? onDelta : nil
        let result = await context.reply(spec, messages: messages, candidate: nil, onDelta: streamThis)
        if Task.isCancelled { throw CancellationError() }
        return .generated(candidate(result, origin: "\(name)#\(sample)", spec: spec, context: context))
    }

    /// A sample's reply as a candidate, or why it was dropped (noted either way when it matters).
    func candidate(
        _ result: Result<CallReply, ProviderError>, origin: String, spec: CallSpec, context: LayerContext
    ) -> Result<Candidate, FailedCall> {
        switch result {
        case .success(let reply):
            if reply.truncated { context.note("\(origin) stopped at max_tokens (\(spec.sampling.maxTokens))") }
            return .success(Candidate(text: reply.text, origin: origin, truncated: reply.truncated ? true : nil))
        case .failure(let error):
            context.note("dropped \(origin): \(error)")
            return .failure(FailedCall(reason: "\(origin): \(error)"))
        }
    }

    /// The layer's candidates in call order; when every call failed, what its `on_failure` says.
    func collect(_ layer: LayerSpec, inputs: [NodeOutput], context: LayerContext) throws -> Pool {
        let given = inputs.lazy.compactMap(\.pool).first ?? .empty
        if layer.kind != .ensemble, given.candidates.isEmpty { throw QueryFailure(reason: "no candidates to work on") }
        var candidates: [Candidate] = [], calls: [Int] = []
        var failures: [String] = []
        // Calls in graph order; one not made (a quorum was met, a vote stopped early) is `.skipped`.
        let callOutputs = layer.kind == .ensemble ? inputs[...] : inputs.dropFirst()
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
        let isLast = layer.index == runtime.graph.layers.last?.index
        if candidates.isEmpty {
            let reason = "every call failed (\(failures.first ?? "no calls"))"
            let fallback = try LayerFallback.apply(layer, pool: given.candidates, reason: reason, context: context)
            if isLast, let first = fallback.first?.text { onDelta?(first) }
            return Pool(candidates: fallback, calls: nil)
        }
        // A single call streamed its text as it came; several show the first candidate once known.
        if isLast, plan.callCounts[runtime.graph.layers.count - 1] != 1, let first = candidates.first?.text { onDelta?(first) }
        return Pool(candidates: candidates, calls: calls)
    }
}
