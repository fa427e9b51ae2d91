import StrataChecker
import StrataSyntax

/// Expands a checked pipeline into its execution graph.
public enum GraphBuilder {
    public static func build(_ pipeline: CheckedPipeline) -> ExecutionGraph {
        var builder = Builder(pipeline: pipeline)
        builder.buildAll()
        return ExecutionGraph(
            pipeline: pipeline.name ?? pipeline.file, models: pipeline.models, layers: pipeline.layers.map(LayerSpec.init),
            nodes: builder.nodes, answer: builder.nodes.count - 1, latencyBudget: pipeline.budget.latencySeconds)
    }
}

private struct Builder {
    let pipeline: CheckedPipeline
    var nodes: [GraphNode] = []

    init(pipeline: CheckedPipeline) {
        self.pipeline = pipeline
        let calls = pipeline.layers.reduce(0) { $0 + $1.entries.reduce(0) { $0 + $1.samples } + 2 * $1.poolIn.max + 4 }
        nodes.reserveCapacity(calls)
    }

    mutating func add(_ layer: Int, _ operation: NodeOperation, dependencies: [Int], seconds: Double = 0) -> Int {
        let id = nodes.count
        nodes.append(
            GraphNode(
                id: id, layer: layer, operation: operation, call: nil, candidate: nil, inputTokens: 0, outputTokens: 0, seconds: seconds,
                dependencies: dependencies))
        return id
    }

    /// Adds an LLM call; `waves` stretches its time when more calls of its group
    /// run than the model allows in flight.
    mutating func call(
        _ layer: CheckedLayer, _ role: CallRole, entry entryIndex: Int, sample: Int?, candidate: Int?,
        dependencies: [Int], waves: Int, completions: Int = 1
    ) -> Int {
        let entry = layer.entries[entryIndex]
        let model = pipeline.models[entry.model]
        let output = entry.sampling.maxTokens
        let id = nodes.count
        var sampling = entry.sampling
        sampling.seed += sample ?? 0
        let spec = CallSpec(
            model: entry.model, entry: entryIndex, template: role, prompt: entry.prompt ?? layer.prompts[role] ?? "", sample: sample,
            completions: completions, sampling: sampling, structured: Self.isStructured(role, in: layer))
        // The server writes a request's completions side by side: one call's time, n times its output.
        nodes.append(
            GraphNode(
                id: id, layer: layer.index, operation: NodeOperation(role), call: spec, candidate: candidate,
                inputTokens: layer.inputTokens[role] ?? 0, outputTokens: output * completions,
                seconds: model.callSeconds(outputTokens: output) * Double(waves), dependencies: dependencies))
        return id
    }

    /// Whether a call's reply is asked for as JSON: the layer's structured
    /// output, for the replies a parser reads (executable tests are code, never JSON).
    static func isStructured(_ role: CallRole, in layer: CheckedLayer) -> Bool {
        switch role {
        case .critique, .rank, .verifyVerdict, .judgeTests: layer.structuredOutput
        case .writeTests: layer.structuredOutput && layer.mode != .execute
        case .generate, .fuse, .verifyReasoning: false
        }
    }

    /// Whether an entry's samples go in one request with `n`: its model
    /// declares the capability, and no spending rule needs them as separate
    /// requests (a quorum hedges with independent requests; a vote that stops
    /// early draws samples a wave at a time).
    func batches(_ entry: CheckedEntry, in layer: CheckedLayer) -> Bool {
        guard entry.samples > 1, pipeline.models[entry.model].supportsN, layer.quorum == nil else { return false }
        let position = pipeline.layers.firstIndex { $0.index == layer.index } ?? 0
        let next = position + 1 < pipeline.layers.count ? pipeline.layers[position + 1] : nil
        return next?.earlyStop == nil
    }

    func waves(_ count: Int, model: Int) -> Int {
        let limit = pipeline.models[model].maxInFlight
        return (count + limit - 1) / limit
    }

    /// The calls of the previous layer, one per candidate it makes, when a
    /// per-candidate step may start on each as soon as it exists: a generating
    /// layer that cannot fall back to the pool it was given.
    var streamedCalls: [Int]?
    /// The write-tests layer's call, whose tests `test_source: written` grades.
    var writtenTests: Int?

    mutating func buildAll() {
        var pool: Int?
        for layer in pipeline.layers {
            pool = build(layer, after: pool)
        }
        _ = add(pipeline.layers.count - 1, .answer, dependencies: pool.map { [$0] } ?? [])
    }

    /// What per-candidate work on candidate `index` waits for: the call that
    /// makes it, when the previous layer streams, or else the whole pool.
    func source(of index: Int, upstream: [Int]?, inputs: [Int]) -> [Int] {
        if let upstream, index < upstream.count { return [upstream[index]] }
        return inputs
    }

    /// Adds a layer's nodes; returns the node that yields its pool.
    mutating func build(_ layer: CheckedLayer, after previous: Int?) -> Int {
        let inputs = previous.map { [$0] } ?? []
        let n = layer.poolIn.max
        let upstream = streamedCalls
        streamedCalls = nil
        switch layer.kind {
        case .ensemble, .fuse:
            let role: CallRole = layer.kind == .ensemble ? .generate : .fuse
            // Requests per model, for the waves of its concurrency limit.
            var perModel: [Int: Int] = [:]
            for entry in layer.entries { perModel[entry.model, default: 0] += batches(entry, in: layer) ? 1 : entry.samples }
            var nextSample: [Int: Int] = [:]
            var calls: [Int] = []
            calls.reserveCapacity(perModel.values.reduce(0, +))
            var batched = false
            for (entryIndex, entry) in layer.entries.enumerated() {
                let waveCount = waves(perModel[entry.model]!, model: entry.model)
                let first = nextSample[entry.model, default: 0]
                nextSample[entry.model] = first + entry.samples
                if batches(entry, in: layer) {
                    batched = true
                    calls.append(
                        call(
                            layer, role, entry: entryIndex, sample: first, candidate: nil, dependencies: inputs, waves: waveCount,
                            completions: entry.samples))
                } else {
                    for sample in first..<(first + entry.samples) {
                        calls.append(call(layer, role, entry: entryIndex, sample: sample, candidate: nil, dependencies: inputs, waves: waveCount))
                    }
                }
            }
            // A fuse that may fall back hands on candidates no call made, a quorum keeps
            // whichever samples arrive first, and a call with several completions makes
            // several candidates: the next layer waits for their pool.
            if layer.quorum == nil, !batched, layer.kind == .ensemble || layer.onFailure == .fail { streamedCalls = calls }
            // The input pool too: a fuse whose every call fails falls back to it.
            return add(layer.index, .collect, dependencies: inputs + calls)
        case .critique:
            let critique = call(layer, .critique, entry: 0, sample: nil, candidate: nil, dependencies: inputs, waves: 1)
            return add(layer.index, .parseCritiques, dependencies: inputs + [critique])
        case .rank:
            let rank = call(layer, .rank, entry: 0, sample: nil, candidate: nil, dependencies: inputs, waves: 1)
            return add(layer.index, .selectTopK, dependencies: inputs + [rank])
        case .verify:
            let waveCount = waves(n, model: layer.entries[0].model)
            var verdicts: [Int] = []
            for candidate in 0..<n {
                let reasoning = call(
                    layer, .verifyReasoning, entry: 0, sample: nil, candidate: candidate,
                    dependencies: source(of: candidate, upstream: upstream, inputs: inputs), waves: waveCount)
                verdicts.append(call(layer, .verifyVerdict, entry: 0, sample: nil, candidate: candidate, dependencies: [reasoning], waves: waveCount))
            }
            return add(layer.index, .filterVerdicts, dependencies: inputs + verdicts)
        case .vote:
            return add(layer.index, .vote, dependencies: inputs)
        case .writeTests:
            // Everything after waits for the tests, since every later query shows them.
            let tests = call(layer, .writeTests, entry: 0, sample: nil, candidate: nil, dependencies: [], waves: 1)
            writtenTests = tests
            return add(layer.index, .showTests, dependencies: [tests])
        case .unitTest:
            // The tests depend on the query alone, so they are written while the candidates are.
            var tests: [Int] = []
            if layer.testSource == .model, !layer.entries.isEmpty {
                tests.append(call(layer, .writeTests, entry: 0, sample: nil, candidate: nil, dependencies: [], waves: 1))
            } else if layer.testSource == .written, let writtenTests {
                tests.append(writtenTests)
            }
            var graded: [Int] = []
            if layer.mode == .judge, !layer.entries.isEmpty {
                let waveCount = waves(n, model: layer.entries[0].model)
                for candidate in 0..<n {
                    graded.append(
                        call(
                            layer, .judgeTests, entry: 0, sample: nil, candidate: candidate,
                            dependencies: source(of: candidate, upstream: upstream, inputs: inputs) + tests, waves: waveCount))
                }
            } else {
                // Sandbox runs are concurrent; each may take up to its full timeout.
                for candidate in 0..<n {
                    let id = add(
                        layer.index, .executeTests, dependencies: source(of: candidate, upstream: upstream, inputs: inputs) + tests,
                        seconds: layer.timeoutSeconds)
                    nodes[id].candidate = candidate
                    graded.append(id)
                }
            }
            return add(layer.index, .selectByTests, dependencies: inputs + tests + graded)
        }
    }
}
