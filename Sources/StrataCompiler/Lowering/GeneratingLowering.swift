import StrataChecker
import StrataSyntax

/// `ensemble` and `fuse`: a call per sample (or per request with `n`), then the step that gathers the pool.
struct GeneratingLowering: LayerLowering {
    var kinds: [LayerKind] { [.ensemble, .fuse] }

    func lower(_ layer: CheckedLayer, inputs: [Int], upstream: [Int]?, into graph: inout GraphLowering) -> Int {
        let role: CallRole = layer.kind == .ensemble ? .generate : .fuse
        // Requests per model, for the waves of its concurrency limit.
        var perModel: [Int: Int] = [:]
        for entry in layer.entries { perModel[entry.model, default: 0] += graph.batches(entry, in: layer) ? 1 : entry.samples }
        var nextSample: [Int: Int] = [:]
        var calls: [Int] = []
        calls.reserveCapacity(perModel.values.reduce(0, +))
        var batched = false
        for (entryIndex, entry) in layer.entries.enumerated() {
            let waveCount = graph.waves(perModel[entry.model]!, model: entry.model)
            let first = nextSample[entry.model, default: 0]
            nextSample[entry.model] = first + entry.samples
            if graph.batches(entry, in: layer) {
                batched = true
                calls.append(
                    graph.call(
                        layer, role, entry: entryIndex, sample: first, candidate: nil, dependencies: inputs, waves: waveCount,
                        completions: entry.samples))
            } else {
                for sample in first..<(first + entry.samples) {
                    calls.append(graph.call(layer, role, entry: entryIndex, sample: sample, candidate: nil, dependencies: inputs, waves: waveCount))
                }
            }
        }
        // A fuse that may fall back hands on candidates no call made, a quorum keeps
        // whichever samples arrive first, and a call with several completions makes
        // several candidates: the next layer waits for their pool.
        if layer.quorum == nil, !batched, layer.kind == .ensemble || layer.onFailure == .fail { graph.streamedCalls = calls }
        // The input pool too: a fuse whose every call fails falls back to it.
        return graph.add(layer.index, .collect, dependencies: inputs + calls)
    }
}
