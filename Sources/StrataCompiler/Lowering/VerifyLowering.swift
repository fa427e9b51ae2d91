import StrataChecker
import StrataSyntax

/// `verify`: per candidate a reasoning call and a verdict call (each starting
/// as soon as its candidate exists), then the step that keeps those judged correct.
struct VerifyLowering: LayerLowering {
    var kinds: [LayerKind] { [.verify] }

    func lower(_ layer: CheckedLayer, inputs: [Int], upstream: [Int]?, into graph: inout GraphLowering) -> Int {
        let n = layer.poolIn.max
        let waveCount = graph.waves(n, model: layer.entries[0].model)
        var verdicts: [Int] = []
        for candidate in 0..<n {
            let reasoning = graph.call(
                layer, .verifyReasoning, entry: 0, sample: nil, candidate: candidate,
                dependencies: graph.source(of: candidate, upstream: upstream, inputs: inputs), waves: waveCount)
            verdicts.append(graph.call(layer, .verifyVerdict, entry: 0, sample: nil, candidate: candidate, dependencies: [reasoning], waves: waveCount))
        }
        return graph.add(layer.index, .filterVerdicts, dependencies: inputs + verdicts)
    }
}
