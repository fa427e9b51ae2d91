import StrataChecker
import StrataSyntax

/// `rank`: one call orders the pool, then the step that keeps the top k.
struct RankLowering: LayerLowering {
    var kinds: [LayerKind] { [.rank] }

    func lower(_ layer: CheckedLayer, inputs: [Int], upstream: [Int]?, into graph: inout GraphLowering) -> Int {
        let rank = graph.call(layer, .rank, entry: 0, sample: nil, candidate: nil, dependencies: inputs, waves: 1)
        return graph.add(layer.index, .selectTopK, dependencies: inputs + [rank])
    }
}
