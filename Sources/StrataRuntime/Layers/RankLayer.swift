import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSandbox
import StrataSyntax

/// `rank`: one call orders the pool; the top k go on.
struct RankExecutor: NodeExecutor {
    var operations: [NodeOperation] { [.rank, .selectTopK] }

    func run(_ context: NodeContext) async throws -> NodeOutput {
        if context.node.operation == .rank { return try await rankCall(context) }
        return .pool(Pool(candidates: try selectTopK(context, pool: try context.nonEmptyPool(), reply: context.inputs.last ?? .skipped)))
    }

    /// One call asks for a permutation of the pool.
    func rankCall(_ node: NodeContext) async throws -> NodeOutput {
        let pool = node.pool, layer = node.layer, context = node.calls
        guard pool.candidates.count > 1, let spec = node.node.call else { return .skipped }
        let topK = min(layer.topK ?? 1, pool.candidates.count)
        let messages = PromptRenderer.poolPrompt(
            spec.prompt, query: PromptRenderer.queryText(node.messages), pool: pool.candidates, critiques: true,
            extra: ["top_k": String(topK)], suffix: spec.structured ? RankingReply.format.instruction : "")
        let result = await context.call(spec, messages: messages, candidate: nil, schema: spec.structured ? RankingReply.format.schema : nil)
        if case .failure(.cancelled) = result { throw CancellationError() }
        return .reply(result)
    }

    /// Reads the permutation, repairing a malformed one deterministically (the
    /// repair recorded), and keeps the top k.
    func selectTopK(_ node: NodeContext, pool: Pool, reply: NodeOutput) throws -> [Candidate] {
        let layer = node.layer, context = node.calls
        let candidates = pool.candidates
        let topK = min(layer.topK ?? 1, candidates.count)
        guard candidates.count > 1 else {
            context.note("one candidate: nothing to rank")
            return candidates
        }
        var order = Array(candidates.indices)
        switch reply {
        case .reply(.success(let text)):
            if let ranking = ReplyParsers.ranking(text, count: candidates.count) {
                order = ranking.order
                if let repair = ranking.repair { context.note("ranking repaired: \(repair)") }
            } else {
                context.note("no ranking could be read from the reply; keeping the input order")
            }
        case .reply(.failure(let error)):
            context.note("the rank call failed (\(error)); keeping the input order")
        default:
            context.note("no ranking: keeping the input order")
        }
        context.note("ranking: " + order.map { "[\($0 + 1)]" }.joined(separator: " > ") + ", keeping \(topK)")
        return order.prefix(topK).map { candidates[$0] }
    }
}

/// The rank call's structured reply: candidate ids, best first.
enum RankingReply {
    static let format = ReplyFormat.object(
        "ranking", property: "ranking", #"{"type":"array","items":{"type":"integer"}}"#,
        instruction: "\nAnswer in JSON: {\"ranking\": [ids, best first]}.")
}
