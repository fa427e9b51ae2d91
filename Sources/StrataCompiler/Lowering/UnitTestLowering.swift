import StrataChecker
import StrataSyntax

/// `unit-test`: the tests (written by a call while the candidates are, or a
/// `write-tests` layer's, or the dataset's), per candidate a sandbox run or a
/// judge's call, then the step that keeps the best by tests passed.
struct UnitTestLowering: LayerLowering {
    var kinds: [LayerKind] { [.unitTest] }

    func lower(_ layer: CheckedLayer, inputs: [Int], upstream: [Int]?, into graph: inout GraphLowering) -> Int {
        let n = layer.poolIn.max
        // The tests depend on the query alone, so they are written while the candidates are.
        var tests: [Int] = []
        if layer.testSource == .model, !layer.entries.isEmpty {
            tests.append(graph.call(layer, .writeTests, entry: 0, sample: nil, candidate: nil, dependencies: [], waves: 1))
        } else if layer.testSource == .written, let written = graph.writtenTests {
            tests.append(written)
        }
        var graded: [Int] = []
        if layer.mode == .judge, !layer.entries.isEmpty {
            let waveCount = graph.waves(n, model: layer.entries[0].model)
            for candidate in 0..<n {
                graded.append(
                    graph.call(
                        layer, .judgeTests, entry: 0, sample: nil, candidate: candidate,
                        dependencies: graph.source(of: candidate, upstream: upstream, inputs: inputs) + tests, waves: waveCount))
            }
        } else {
            // Sandbox runs are concurrent; each may take up to its full timeout.
            for candidate in 0..<n {
                let id = graph.add(
                    layer.index, .executeTests, dependencies: graph.source(of: candidate, upstream: upstream, inputs: inputs) + tests,
                    seconds: layer.timeoutSeconds)
                graph.nodes[id].candidate = candidate
                graded.append(id)
            }
        }
        return graph.add(layer.index, .selectByTests, dependencies: inputs + tests + graded)
    }
}
