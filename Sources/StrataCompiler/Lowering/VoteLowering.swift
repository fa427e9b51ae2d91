import StrataChecker
import StrataSyntax

/// `vote`: one pure step over the pool.
struct VoteLowering: LayerLowering {
    var kinds: [LayerKind] { [.vote] }

    func lower(_ layer: CheckedLayer, inputs: [Int], upstream: [Int]?, into graph: inout GraphLowering) -> Int {
        graph.add(layer.index, .vote, dependencies: inputs)
    }
}
