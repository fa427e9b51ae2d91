import StrataChecker
import StrataSyntax

/// The worst-case cost of one query, per layer and in total.
public struct CostSummary: Sendable, Codable {
    /// One layer's worst case, or the total.
    public struct Line: Sendable, Codable, Hashable {
        /// The layer's index, or nil for the total.
        public var layer: Int?
        /// The layer kind, or `total`.
        public var kind: String
        /// Worst-case calls.
        public var calls: Int
        /// Worst-case input tokens.
        public var inputTokens: Int
        /// Worst-case output tokens.
        public var outputTokens: Int
        /// Worst-case US dollars.
        public var usd: Double
        /// Seconds this layer adds to the critical path.
        public var latencySeconds: Double
        /// Of the input tokens, those an earlier call of the query has already sent as the same prefix: what a
        /// prompt cache can serve (llama.cpp reuses any length; OpenAI and Anthropic from 1,024 tokens).
        public var cacheableTokens: Int = 0
        /// US dollars the cacheable tokens save at the models' cached-input price.
        public var cacheSavingUSD: Double = 0
    }

    /// Per layer, in order.
    public var layers: [Line]
    /// For one query.
    public var total: Line

    /// Computes the summary from a graph: sums over call nodes, and the critical
    /// path (longest path, node times including concurrency waves).
    package init(graph: ExecutionGraph, pipeline: CheckedPipeline) {
        var lines = pipeline.layers.map {
            Line(layer: $0.index, kind: $0.kind.rawValue, calls: 0, inputTokens: 0, outputTokens: 0, usd: 0, latencySeconds: 0)
        }
        var position: [Int: Int] = [:]
        for (offset, layer) in pipeline.layers.enumerated() { position[layer.index] = offset }
        var finish = [Double](repeating: 0, count: graph.nodes.count)
        var layerEnd = [Double](repeating: 0, count: lines.count)
        var seen: Set<String> = []
        for node in graph.nodes {
            var start = 0.0
            for dependency in node.dependencies where finish[dependency] > start { start = finish[dependency] }
            finish[node.id] = start + node.seconds
            guard let offset = position[node.layer] else { continue }
            layerEnd[offset] = max(layerEnd[offset], finish[node.id])
            guard node.operation.isCall, let modelIndex = node.model else { continue }
            let model = pipeline.models[modelIndex]
            lines[offset].calls += 1
            lines[offset].inputTokens += node.inputTokens
            lines[offset].outputTokens += node.outputTokens
            lines[offset].usd += model.usd(input: node.inputTokens, output: node.outputTokens)
            let cacheable = Self.cacheableTokens(node, layer: pipeline.layers[offset], previous: offset > 0 ? pipeline.layers[offset - 1] : nil, seen: &seen)
            lines[offset].cacheableTokens += cacheable
            lines[offset].cacheSavingUSD += Double(cacheable) * (model.priceInput - model.priceCachedInput) / 1_000_000
        }
        // A route's calls are its branches': all of a cascade's at worst, the costliest of a match's.
        for (offset, layer) in pipeline.layers.enumerated() where layer.kind == .route {
            let branches = (graph.routes[layer.index] ?? []).map(\.cost.total)
            let chosen: [Line]
            if case .cascade? = layer.route {
                chosen = branches
            } else {
                chosen = branches.max { ($0.calls, $0.usd) < ($1.calls, $1.usd) }.map { [$0] } ?? []
            }
            lines[offset].calls = chosen.reduce(0) { $0 + $1.calls }
            lines[offset].inputTokens = chosen.reduce(0) { $0 + $1.inputTokens }
            lines[offset].outputTokens = chosen.reduce(0) { $0 + $1.outputTokens }
            lines[offset].usd = chosen.reduce(0) { $0 + $1.usd }
            if let classifier = graph.classifiers[layer.index] {
                let input = pipeline.budget.queryTokens + TokenEstimate.of(classifier.prompt)
                let output = classifier.sampling.maxTokens
                lines[offset].calls += 1
                lines[offset].inputTokens += input
                lines[offset].outputTokens += output
                lines[offset].usd += pipeline.models[classifier.model].usd(input: input, output: output)
            }
        }
        var previousEnd = 0.0
        for offset in lines.indices {
            lines[offset].latencySeconds = max(0, layerEnd[offset] - previousEnd)
            previousEnd = max(previousEnd, layerEnd[offset])
        }
        layers = lines
        total = Line(
            layer: nil, kind: "total",
            calls: lines.reduce(0) { $0 + $1.calls },
            inputTokens: lines.reduce(0) { $0 + $1.inputTokens },
            outputTokens: lines.reduce(0) { $0 + $1.outputTokens },
            usd: lines.reduce(0) { $0 + $1.usd },
            latencySeconds: finish.last ?? 0,
            cacheableTokens: lines.reduce(0) { $0 + $1.cacheableTokens },
            cacheSavingUSD: lines.reduce(0) { $0 + $1.cacheSavingUSD })
    }

    /// What of a call's prompt an earlier call of the same query and model already sent as its opening:
    /// a sample's whole prompt after the first sample; a verdict's context (its reasoning call read it);
    /// a pool reader's context when a critique read the same pool before it (the critique keeps its order)
    /// or an earlier call of its own layer did. `seen` names the contexts already sent, by model.
    static func cacheableTokens(_ node: GraphNode, layer: CheckedLayer, previous: CheckedLayer?, seen: inout Set<String>) -> Int {
        guard let model = node.model else { return 0 }
        let cached: Int
        switch node.operation {
        case .generate where layer.kind == .ensemble:
            cached = seen.insert("sample \(model) \(node.call?.entry ?? 0)").inserted ? 0 : node.inputTokens
        case .verifyVerdict:
            cached = layer.candidateContextTokens
        case .critique, .rank, .fuse, .generate:
            let readBefore = previous?.kind == .critique && previous?.poolOut == layer.poolIn && previous?.entries.first?.model == model
            cached = seen.insert("pool \(model) \(layer.index)").inserted && !readBefore ? 0 : layer.poolContextTokens
        default:
            cached = 0
        }
        return min(cached, node.inputTokens)
    }
}
