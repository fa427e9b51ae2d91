import Foundation
import Strata
import StrataTestSupport
import Testing

/// Every imported configuration keeps Archon's structure: per layer, the kind,
/// the models and samples, the sampling, top_k and first_k, and the worst-case
/// calls a query makes, each computed here from the JSON alone.
@Suite struct ArchonRoundTripTests {
    struct ExpectedLayer: Equatable, CustomStringConvertible {
        var kind: String
        var entries: [String]
        var topK: Int?
        var firstK: Int?
        var description: String { "\(kind) \(entries) top_k \(topK.map(String.init) ?? "-") first_k \(firstK.map(String.init) ?? "-")" }
    }

    /// Archon's layers as Strata should have them: a test writer of the first layer first, then the last
    /// generator layer on (earlier ones are dead).
    static func expected(_ json: [String: Any]) -> [ExpectedLayer] {
        let layers: [[[String: Any]]] = (json["layers"] as? [Any] ?? []).map { layer in
            if let list = layer as? [[String: Any]] { return list }
            if let object = layer as? [String: Any] { return object["models"] as? [[String: Any]] ?? [object] }
            return []
        }
        let lastGenerator = layers.lastIndex { $0.first?["type"] as? String == "generator" } ?? 0
        let kinds = [
            "generator": "ensemble", "fuser": "fuse", "critic": "critique", "ranker": "rank", "verifier": "verify", "unit_test_evaluator": "unit-test",
            "unit_test_generator": "write-tests",
        ]
        let writer = layers.first?.first.flatMap { $0["type"] as? String == "unit_test_generator" ? [$0] : nil }
        return ([writer].compactMap { $0 } + layers[lastGenerator...]).compactMap { components in
            guard let type = components.first?["type"] as? String, let kind = kinds[type] else { return nil }
            let entries = components.map { component -> String in
                let many = type == "generator" || type == "fuser"
                let anthropic = component["model_type"] as? String == "Anthropic_API"
                let maxTokens = anthropic ? 4096 : (component["max_tokens"] as? Int ?? 0)
                let temperature = (component["temperature"] as? NSNumber)?.doubleValue ?? 0
                return "\(component["model"] as? String ?? "")×\(many ? component["samples"] as? Int ?? 1 : 1) t\(temperature) m\(maxTokens)"
            }
            let first = components[0]
            return ExpectedLayer(
                kind: kind, entries: entries, topK: type == "ranker" || type == "unit_test_evaluator" ? first["top_k"] as? Int : nil,
                firstK: type == "verifier" ? first["first_k"] as? Int : nil)
        }
    }

    static func actual(_ pipeline: CheckedPipeline) -> [ExpectedLayer] {
        pipeline.layers.map { layer in
            ExpectedLayer(
                kind: layer.kind.rawValue,
                entries: layer.entries.map { "\(pipeline.models[$0.model].modelID)×\($0.samples) t\($0.sampling.temperature) m\($0.sampling.maxTokens)" },
                topK: layer.kind == .rank || layer.kind == .unitTest ? layer.topK : nil, firstK: layer.kind == .verify ? layer.firstK : nil)
        }
    }

    @Test func structureSamplingAndCallsMatchTheJSON() throws {
        var checked = 0
        for file in ArchonCorpusTests.files {
            let path = ArchonCorpusTests.root.appendingPathComponent(file).path
            let imported = ArchonImporter.importFile(path: path, options: ArchonImportOptions())
            guard let compiled = imported.compiled else { continue }
            let json = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            #expect(Self.actual(compiled.pipeline) == Self.expected(json), "\(file)")
            // Worst-case calls per layer, Archon's formula: generators and fusers their samples (one request for all of
            // an entry's samples where the provider takes `n`), critic and rank one, verify two a candidate, the
            // test writer one, the unit-test layer one a candidate (it grades the writer's tests).
            var pool = 0
            for (layer, cost) in zip(compiled.pipeline.layers, compiled.cost.layers) {
                let requests = layer.entries.reduce(0) { $0 + (compiled.pipeline.models[$1.model].supportsN && $1.samples > 1 ? 1 : $1.samples) }
                let samples = layer.entries.reduce(0) { $0 + $1.samples }
                let calls: Int
                switch layer.kind {
                case .ensemble, .fuse: (calls, pool) = (requests, samples)
                case .critique: calls = 1
                case .rank: (calls, pool) = (1, min(pool, layer.topK ?? pool))
                case .verify: calls = 2 * pool
                // The first first_k passing every test, or else the top_k: at most the larger.
                case .unitTest: (calls, pool) = (pool, min(pool, max(layer.firstK ?? 0, layer.topK ?? pool)))
                case .writeTests: calls = 1
                default: calls = -1
                }
                #expect(cost.calls == calls, "\(file) layer \(layer.index + 1) \(layer.kind)")
            }
            checked += 1
        }
        #expect(checked > 100)
    }
}
