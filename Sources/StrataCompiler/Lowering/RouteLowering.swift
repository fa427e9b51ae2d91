import StrataChecker
import StrataSyntax

/// `route`: one node that runs the branch the route chooses. Each branch is
/// compiled to a graph of its own, kept whole in the parent's graph; the
/// node's time is the branches' worst case (all of a cascade, the slowest of a match).
struct RouteLowering: LayerLowering {
    var kinds: [LayerKind] { [.route] }

    func lower(_ layer: CheckedLayer, inputs: [Int], upstream: [Int]?, into graph: inout GraphLowering) -> Int {
        let branches = layer.branches.map { branch in
            var pipeline = graph.pipeline
            pipeline.name = "\(graph.pipeline.name ?? graph.pipeline.file)/\(branch.name)"
            pipeline.layers = branch.layers
            let compiled = GraphBuilder.build(pipeline)
            return RouteBranch(name: branch.name, graph: compiled, cost: CostSummary(graph: compiled, pipeline: pipeline))
        }
        graph.routes[layer.index] = branches
        let seconds = branches.map(\.cost.total.latencySeconds)
        let worst = if case .cascade? = layer.route { seconds.reduce(0, +) } else { seconds.max() ?? 0 }
        return graph.add(layer.index, .route, dependencies: inputs, seconds: worst)
    }
}
