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
        var worst = if case .cascade? = layer.route { seconds.reduce(0, +) } else { seconds.max() ?? 0 }
        if case .classify(let prompt, _, _)? = layer.route, let entry = layer.entries.first {
            graph.classifiers[layer.index] = CallSpec(
                model: entry.model, entry: 0, template: .generate, prompt: prompt, sample: 0, completions: 1, sampling: entry.sampling,
                structured: false)
            worst += graph.pipeline.models[entry.model].callSeconds(outputTokens: entry.sampling.maxTokens)
        }
        return graph.add(layer.index, .route, dependencies: inputs, seconds: worst)
    }
}
