import StrataChecker
import StrataSyntax

/// `critique`: one call about the whole pool, then the step that attaches a critique to each candidate.
struct CritiqueLowering: LayerLowering {
    var kinds: [LayerKind] { [.critique] }

    func lower(_ layer: CheckedLayer, inputs: [Int], upstream: [Int]?, into graph: inout GraphLowering) -> Int {
        let critique = graph.call(layer, .critique, entry: 0, sample: nil, candidate: nil, dependencies: inputs, waves: 1)
        return graph.add(layer.index, .parseCritiques, dependencies: inputs + [critique])
    }
}
