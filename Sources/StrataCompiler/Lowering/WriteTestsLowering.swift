import StrataChecker
import StrataSyntax

/// `write-tests`: one call, on the query alone, then the step that shows the
/// tests to every later layer (which all wait for it).
struct WriteTestsLowering: LayerLowering {
    var kinds: [LayerKind] { [.writeTests] }

    func lower(_ layer: CheckedLayer, inputs: [Int], upstream: [Int]?, into graph: inout GraphLowering) -> Int {
        let tests = graph.call(layer, .writeTests, entry: 0, sample: nil, candidate: nil, dependencies: [], waves: 1)
        graph.writtenTests = tests
        return graph.add(layer.index, .showTests, dependencies: [tests])
    }
}
