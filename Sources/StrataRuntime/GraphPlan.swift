import StrataChecker
import StrataCompiler

/// The execution graph of a pipeline with what the runtime needs to run it,
/// computed once per runtime and shared by every query: who waits for whom,
/// and which node yields each layer's pool.
struct GraphPlan: Sendable {
    let graph: ExecutionGraph
    /// For each node, the nodes that depend on it.
    let dependents: [[Int]]
    /// For each layer (by position), the node that yields its pool.
    let poolNodes: [Int]
    /// For each node, the position of its layer in `graph.layers`.
    let layerOf: [Int]
    /// For each layer, whether its per-candidate nodes wait on the previous
    /// layer's calls rather than its pool (so a candidate's position is that of its call).
    let streamed: [Bool]
    /// For each layer, how many samples a generating layer's calls make.
    let callCounts: [Int]
    /// The ensemble's calls, in sample order.
    let ensembleCalls: [Int]
    /// The ensemble's samples drawn in waves for a vote that stops early.
    let earlyStop: EarlyStopGate?
    /// The node whose output is the answer.
    var answer: Int { graph.answer }

    init(graph: ExecutionGraph) {
        self.graph = graph
        var position: [Int: Int] = [:]
        for (offset, layer) in graph.layers.enumerated() { position[layer.index] = offset }
        var dependents = [[Int]](repeating: [], count: graph.nodes.count)
        var poolNodes = [Int](repeating: graph.answer, count: graph.layers.count)
        var layerOf = [Int](repeating: 0, count: graph.nodes.count)
        var streamed = [Bool](repeating: false, count: graph.layers.count)
        var callCounts = [Int](repeating: 0, count: graph.layers.count)
        for node in graph.nodes {
            for dependency in node.dependencies { dependents[dependency].append(node.id) }
            let layer = position[node.layer] ?? 0
            layerOf[node.id] = layer
            switch node.operation {
            case .collect, .parseCritiques, .selectTopK, .filterVerdicts, .selectByTests, .vote, .showTests, .route:
                poolNodes[layer] = node.id
            case .generate, .fuse:
                callCounts[layer] += node.completions
            case .verifyReasoning, .judgeTests, .executeTests:
                if let first = node.dependencies.first, [.generate, .fuse].contains(graph.nodes[first].operation) { streamed[layer] = true }
            default:
                break
            }
        }
        self.dependents = dependents
        self.poolNodes = poolNodes
        self.layerOf = layerOf
        self.streamed = streamed
        self.callCounts = callCounts
        let ensemble = graph.ensemblePosition
        ensembleCalls = graph.nodes.filter { layerOf[$0.id] == ensemble && $0.operation == .generate }.map(\.id)
        if graph.layers.count > ensemble + 1, graph.layers[ensemble].kind == .ensemble, graph.layers[ensemble + 1].kind == .vote,
            let rule = graph.layers[ensemble + 1].earlyStop
        {
            let vote = graph.layers[ensemble + 1]
            // Unless the pipeline says otherwise, as many samples in flight as the model takes at once.
            let slots = ensembleCalls.compactMap { graph.nodes[$0].model }.map { graph.models[$0].maxInFlight }.max() ?? 1
            earlyStop = EarlyStopGate(
                calls: ensembleCalls, wave: max(1, vote.wave ?? slots), rule: rule,
                counting: VoteCounting(extractor: vote.extractor ?? .numeric, weight: vote.weight ?? .count, keep: nil),
                voteLayer: ensemble + 1)
        } else {
            earlyStop = nil
        }
    }
}
