import StrataChecker
import StrataSyntax

/// Expands a checked pipeline into its execution graph.
public enum GraphBuilder {
    public static func build(_ pipeline: CheckedPipeline) -> ExecutionGraph {
        var builder = Builder(pipeline: pipeline)
        builder.buildAll()
        return ExecutionGraph(pipeline: pipeline.name ?? pipeline.file, models: pipeline.models.map(\.name),
                              layers: pipeline.layers.map(\.kind), nodes: builder.nodes, answer: builder.nodes.count - 1)
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
        nodes.append(GraphNode(id: id, layer: layer, operation: operation, model: nil, sample: nil, seed: nil, candidate: nil,
                               temperature: nil, inputTokens: 0, outputTokens: 0, seconds: seconds, dependencies: dependencies))
        return id
    }

    /// Adds an LLM call; `waves` stretches its time when more calls of its group
    /// run than the model allows in flight.
    mutating func call(_ layer: CheckedLayer, _ role: CallRole, entry: CheckedEntry, sample: Int?, candidate: Int?,
                       dependencies: [Int], waves: Int, outputTokens: Int? = nil) -> Int {
        let model = pipeline.models[entry.model]
        let output = outputTokens ?? entry.sampling.maxTokens
        let id = nodes.count
        nodes.append(GraphNode(
            id: id, layer: layer.index, operation: NodeOperation(role), model: entry.model, sample: sample,
            seed: entry.sampling.seed + (sample ?? 0), candidate: candidate, temperature: entry.sampling.temperature,
            inputTokens: layer.inputTokens[role] ?? 0, outputTokens: output,
            seconds: model.callSeconds(outputTokens: output) * Double(waves), dependencies: dependencies))
        return id
    }

    func waves(_ count: Int, model: Int) -> Int {
        let limit = pipeline.models[model].maxInFlight
        return (count + limit - 1) / limit
    }

    mutating func buildAll() {
        var pool: Int?
        for layer in pipeline.layers {
            pool = build(layer, after: pool)
        }
        _ = add(pipeline.layers.count - 1, .answer, dependencies: pool.map { [$0] } ?? [])
    }

    /// Adds a layer's nodes; returns the node that yields its pool.
    mutating func build(_ layer: CheckedLayer, after previous: Int?) -> Int {
        let inputs = previous.map { [$0] } ?? []
        let n = layer.poolIn.max
        switch layer.kind {
        case .ensemble, .fuse:
            let role: CallRole = layer.kind == .ensemble ? .generate : .fuse
            var perModel: [Int: Int] = [:]
            for entry in layer.entries { perModel[entry.model, default: 0] += entry.samples }
            var nextSample: [Int: Int] = [:]
            var calls: [Int] = []
            calls.reserveCapacity(perModel.values.reduce(0, +))
            for entry in layer.entries {
                let waveCount = waves(perModel[entry.model]!, model: entry.model)
                for _ in 0..<entry.samples {
                    let sample = nextSample[entry.model, default: 0]
                    nextSample[entry.model] = sample + 1
                    calls.append(call(layer, role, entry: entry, sample: sample, candidate: nil, dependencies: inputs, waves: waveCount))
                }
            }
            return add(layer.index, .collect, dependencies: calls)
        case .critique:
            let critique = call(layer, .critique, entry: layer.entries[0], sample: nil, candidate: nil, dependencies: inputs, waves: 1)
            return add(layer.index, .parseCritiques, dependencies: inputs + [critique])
        case .rank:
            let rank = call(layer, .rank, entry: layer.entries[0], sample: nil, candidate: nil, dependencies: inputs, waves: 1)
            return add(layer.index, .selectTopK, dependencies: inputs + [rank])
        case .verify:
            let entry = layer.entries[0]
            let waveCount = waves(n, model: entry.model)
            var verdicts: [Int] = []
            for candidate in 0..<n {
                let reasoning = call(layer, .verifyReasoning, entry: entry, sample: nil, candidate: candidate, dependencies: inputs, waves: waveCount)
                verdicts.append(call(layer, .verifyVerdict, entry: entry, sample: nil, candidate: candidate, dependencies: [reasoning], waves: waveCount))
            }
            return add(layer.index, .filterVerdicts, dependencies: inputs + verdicts)
        case .vote:
            return add(layer.index, .vote, dependencies: inputs)
        case .unitTest:
            var testInputs = inputs
            if layer.testSource == .model, let entry = layer.entries.first {
                testInputs.append(call(layer, .writeTests, entry: entry, sample: nil, candidate: nil, dependencies: inputs, waves: 1))
            }
            var graded: [Int] = []
            if layer.mode == .judge, let entry = layer.entries.first {
                let waveCount = waves(n, model: entry.model)
                for candidate in 0..<n {
                    graded.append(call(layer, .judgeTests, entry: entry, sample: nil, candidate: candidate, dependencies: testInputs, waves: waveCount))
                }
            } else {
                // Sandbox runs are concurrent; each may take up to its full timeout.
                for candidate in 0..<n {
                    let id = add(layer.index, .executeTests, dependencies: testInputs, seconds: layer.timeoutSeconds)
                    nodes[id].candidate = candidate
                    graded.append(id)
                }
            }
            return add(layer.index, .selectByTests, dependencies: inputs + graded)
        }
    }
}
