import StrataChecker
import StrataSyntax

/// Expands a checked pipeline into its execution graph.
package enum GraphBuilder {
    package static func build(_ pipeline: CheckedPipeline) -> ExecutionGraph {
        var builder = GraphLowering(pipeline: pipeline)
        builder.buildAll()
        return ExecutionGraph(
            pipeline: pipeline.name ?? pipeline.file, models: pipeline.models, layers: pipeline.layers.map(LayerSpec.init),
            nodes: builder.nodes, answer: builder.nodes.count - 1, latencyBudget: pipeline.budget.latencySeconds, routes: builder.routes,
            classifiers: builder.classifiers)
    }
}

/// The graph being built, and what the lowerings of the layers share:
/// adding nodes and calls, and what the previous layer left for the next.
struct GraphLowering {
    let pipeline: CheckedPipeline
    var nodes: [GraphNode] = []
    /// Route layers' branches, compiled, and a `classify` route's call.
    var routes: [Int: [RouteBranch]] = [:]
    var classifiers: [Int: CallSpec] = [:]

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
            completions: completions, sampling: sampling, structured: Self.isStructured(role, in: layer),
            logprobs: model.supportsLogprobs && (role == .generate || role == .fuse) ? logprobAlternatives : nil)
        // The server writes a request's completions side by side: one call's time, n times its output.
        nodes.append(
            GraphNode(
                id: id, layer: layer.index, operation: NodeOperation(role), call: spec, candidate: candidate,
                inputTokens: layer.inputTokens[role] ?? 0, outputTokens: output * completions,
                seconds: model.callSeconds(outputTokens: output) * Double(waves), dependencies: dependencies))
        return id
    }

    /// Alternatives per token a candidate-making call asks for: DeepConf's group
    /// confidence needs the top alternatives, so five when a vote filters on it
    /// (`keep`); otherwise the chosen tokens' log-probabilities are enough.
    var logprobAlternatives: Int { pipeline.layers.contains { $0.keep != nil } ? 5 : 0 }

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

    /// Adds a layer's nodes through its kind's lowering; returns the node that yields its pool.
    mutating func build(_ layer: CheckedLayer, after previous: Int?) -> Int {
        let inputs = previous.map { [$0] } ?? []
        let upstream = streamedCalls
        streamedCalls = nil
        return LayerLowerings.lowering(for: layer.kind).lower(layer, inputs: inputs, upstream: upstream, into: &self)
    }
}
