import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSandbox
import StrataSyntax

/// `critique`: one call lists strengths and weaknesses of every candidate.
struct CritiqueExecutor: NodeExecutor {
    var operations: [NodeOperation] { [.critique, .parseCritiques] }

    func run(_ context: NodeContext) async throws -> NodeOutput {
        if context.node.operation == .critique { return try await critique(context) }
        return .pool(Pool(candidates: try attachCritiques(context, pool: try context.nonEmptyPool(), reply: context.inputs.last ?? .skipped)))
    }

    /// One call lists strengths and weaknesses of every candidate; the reply is
    /// split into exactly N critiques, asked again with new seeds when it cannot be.
    func critique(_ node: NodeContext) async throws -> NodeOutput {
        let pool = node.pool, context = node.calls
        guard !pool.candidates.isEmpty, let spec = node.node.call else { return .skipped }
        let structured = spec.structured
        let messages = PromptRenderer.poolPrompt(
            spec.prompt, query: PromptRenderer.queryText(node.messages), pool: pool.candidates, critiques: false,
            suffix: structured ? CritiqueReply.format.instruction : "")
        var lastProblem = "no reply"
        for attempt in 0...node.malformedRetries {
            switch await context.call(
                spec, messages: messages, candidate: nil, seedOffset: attempt * 1_000_003,
                schema: structured ? CritiqueReply.format.schema : nil)
            {
            case .success(let text):
                if let critiques = ReplyParsers.critiques(text, count: pool.candidates.count) { return .critiques(.success(critiques)) }
                lastProblem = "the reply does not hold exactly \(pool.candidates.count) critiques"
                context.note("critique attempt \(attempt + 1): \(lastProblem); retrying with a new seed")
            case .failure(let error):
                if error == .cancelled { throw CancellationError() }
                lastProblem = error.description
            }
        }
        return .critiques(.failure(FailedCall(reason: lastProblem)))
    }

    func attachCritiques(_ node: NodeContext, pool: Pool, reply: NodeOutput) throws -> [Candidate] {
        let layer = node.layer, context = node.calls
        switch reply {
        case .critiques(.success(let critiques)):
            return zip(pool.candidates, critiques).map { candidate, critique in
                var candidate = candidate
                candidate.critique = critique
                return candidate
            }
        case .critiques(.failure(let failed)) where layer.onMalformed == .passThrough:
            context.note("critique failed (\(failed.reason)); passing the pool on without critiques, as the pipeline says")
            return pool.candidates
        case .critiques(.failure(let failed)):
            throw QueryFailure(reason: "critique failed: \(failed.reason)")
        default:
            throw QueryFailure(reason: "critique failed: no reply")
        }
    }
}

/// The critique call's structured reply: one entry per candidate, in order.
enum CritiqueReply {
    static let format = ReplyFormat.object(
        "critiques", property: "critiques",
        #"{"type":"array","items":{"type":"object","properties":{"strengths":{"type":"string"},"weaknesses":{"type":"string"}},"required":["strengths","weaknesses"],"additionalProperties":false}}"#,
        instruction: "\nAnswer in JSON: {\"critiques\": [{\"strengths\": \"…\", \"weaknesses\": \"…\"}, …]}, one entry per response, in order.")
}
