import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSandbox
import StrataSyntax

/// What each kind of node does, as Grammar/README.md defines the layers: calls
/// make candidates, critiques, rankings, verdicts and tests; pure steps turn
/// them into the layer's pool.
extension QueryRun {
    func work(_ node: GraphNode, inputs: [NodeOutput]) async throws -> NodeOutput {
        let position = plan.layerOf[node.id]
        let layer = runtime.graph.layers[position]
        let context = contexts[position]
        let inputPool = inputs.lazy.compactMap(\.pool).first ?? .empty
        switch node.operation {
        case .generate, .fuse:
            return try await generate(node, layer: layer, pool: inputPool, context: context)
        case .collect:
            return .pool(try collect(layer, inputs: inputs, context: context))
        case .critique:
            return try await critique(node, pool: inputPool, context: context)
        case .parseCritiques:
            return .pool(Pool(candidates: try attachCritiques(layer, pool: nonEmpty(inputPool), reply: inputs.last ?? .skipped, context: context)))
        case .rank:
            return try await rankCall(node, layer: layer, pool: inputPool, context: context)
        case .selectTopK:
            return .pool(Pool(candidates: try selectTopK(layer, pool: nonEmpty(inputPool), reply: inputs.last ?? .skipped, context: context)))
        case .verifyReasoning:
            guard let candidate = candidate(for: node, inputs: inputs) else { return .skipped }
            return try await verifyReasoning(node, layer: layer, candidate: candidate, context: context)
        case .verifyVerdict:
            guard case .reasoning(let candidate, let reasoning)? = inputs.first else { return .skipped }
            guard let reasoning else { return .verdict(nil) }
            return try await verdict(node, layer: layer, candidate: candidate, reasoning: reasoning, context: context)
        case .filterVerdicts:
            return .pool(
                Pool(
                    candidates: try filterVerdicts(
                        layer, pool: nonEmpty(inputPool), verdicts: Array(inputs.dropFirst()),
                        streamed: plan.streamed[position], context: context)))
        case .writeTests:
            return try await writeTests(node, layer: layer, context: context)
        case .executeTests, .judgeTests:
            guard let candidate = candidate(for: node, inputs: inputs), let tests = tests(layer, inputs: inputs) else { return .skipped }
            return try await grade(node, layer: layer, candidate: candidate, tests: tests, context: context)
        case .selectByTests:
            return .pool(
                Pool(
                    candidates: try selectByTests(
                        layer, pool: nonEmpty(inputPool), inputs: inputs, streamed: plan.streamed[position],
                        context: context)))
        case .showTests:
            showTests(layer, written: inputs.first ?? .skipped, context: context)
            return .pool(.empty)
        case .vote:
            return .pool(Pool(candidates: VoteLayer.select(layer, pool: try nonEmpty(inputPool).candidates, context: context)))
        case .answer:
            return .pool(inputPool)
        }
    }

    /// Every layer after the first works on candidates; with none it stops the query.
    func nonEmpty(_ pool: Pool) throws -> Pool {
        if pool.candidates.isEmpty { throw QueryFailure(reason: "no candidates to work on") }
        return pool
    }

    /// The candidate a per-candidate node works on: the reply of the call it
    /// waits for, or its position in the pool it waits for.
    func candidate(for node: GraphNode, inputs: [NodeOutput]) -> Candidate? {
        switch inputs.first {
        case .generated(.success(let candidate))?: return candidate
        case .pool(let pool)?:
            guard let index = node.candidate, index < pool.candidates.count else { return nil }
            return pool.candidates[index]
        default: return nil
        }
    }

    /// The output of the per-candidate node about the pool's candidate `index`.
    func perCandidate(_ outputs: [NodeOutput], pool: Pool, index: Int, streamed: Bool) -> NodeOutput? {
        let position = streamed ? pool.calls?[index] : index
        guard let position, position < outputs.count else { return nil }
        return outputs[position]
    }
}
