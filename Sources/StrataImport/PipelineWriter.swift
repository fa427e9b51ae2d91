import Foundation

/// Writes an imported pipeline as Strata YAML, byte for byte the same for
/// the same input: a header naming the source file and its hash, one
/// declaration per model, the common sampling as defaults, and a comment per
/// layer with its JSON path. It also records, per line written, the Archon
/// construct it came from, so the checker's findings on the YAML can be
/// reported at the JSON.
struct PipelineWriter {
    let options: ArchonImportOptions
    private(set) var lines: [String] = []
    /// Line number (1-based) → the construct that line was written for.
    private(set) var origins: [Int: ArchonOrigin] = [:]
    /// Each layer's entries by JSON path of the layer: which component a finding about one model is about.
    private(set) var entries: [String: [(model: String, origin: ArchonOrigin)]] = [:]

    init(options: ArchonImportOptions) { self.options = options }

    mutating func write(_ pipeline: ImportedPipeline, source: String, sha256: String) -> String {
        emit("# Imported by `strata import archon` from \(source) (sha256 \(sha256)).")
        emit("# Structure and sampling are Archon's; prompts are Strata's own. Each layer names its JSON path.")
        emit("strata: 1")
        emit("name: \(Self.quoted(pipeline.name))")
        emit("models:")
        for model in pipeline.models { emit("  \(model.name): \(declaration(model))", origin: model.origin) }
        emit("defaults: { temperature: \(Self.number(pipeline.temperature)), max_tokens: \(pipeline.maxTokens) }")
        emit("layers:")
        for layer in pipeline.layers { write(layer, defaults: (pipeline.temperature, pipeline.maxTokens)) }
        return lines.joined(separator: "\n") + "\n"
    }

    mutating func write(_ layer: ImportedLayer, defaults: (Double, Int)) {
        entries[layer.origin.path] = layer.entries.map { ($0.model, $0.origin) }
        emit("  # \(layer.origin.path)", origin: layer.origin)
        func settings(_ entry: ImportedEntry, _ extra: [String]) -> String {
            "{ " + (["model: \(entry.model)"] + extra + sampling(entry, defaults)).joined(separator: ", ") + " }"
        }
        switch layer.kind {
        case .ensemble(let entries):
            emit("  - ensemble:", origin: layer.origin)
            emit("      prompt: \(Self.quoted("You are a helpful assistant"))", origin: layer.origin)
            emitEntries(entries, defaults: defaults, layer: layer.origin)
        case .fuse(let entries, let lengthControl):
            emit("  - fuse:", origin: layer.origin)
            emitEntries(entries, defaults: defaults, layer: layer.origin)
            if lengthControl { emit("      length_control: true", origin: layer.origin) }
        case .critique(let entry):
            emit("  - critique: \(settings(entry, []))", origin: entry.origin)
        case .rank(let entry, let topK):
            emit("  - rank: \(settings(entry, ["top_k: \(topK)"]))", origin: entry.origin)
        case .verify(let entry, let firstK):
            emit("  - verify: \(settings(entry, ["on_empty: keep-all"] + (firstK.map { ["first_k: \($0)"] } ?? [])))", origin: entry.origin)
        case .unitTest(let entry, let topK, let firstK):
            let extra =
                ["mode: judge", "test_source: written"] + (topK.map { ["top_k: \($0)"] } ?? []) + (firstK.map { ["first_k: \($0)"] } ?? [])
                + ["on_empty: keep-all"]
            emit("  - unit-test: \(settings(entry, extra))", origin: entry.origin)
        case .writeTests(let entry, let tests):
            emit("  - write-tests: \(settings(entry, ["tests: \(tests)"]))", origin: entry.origin)
        }
    }

    mutating func emitEntries(_ entries: [ImportedEntry], defaults: (Double, Int), layer: ArchonOrigin) {
        emit("      models:", origin: layer)
        for entry in entries {
            let samples = entry.samples == 1 ? [] : ["samples: \(entry.samples)"]
            emit("        - { " + (["model: \(entry.model)"] + samples + sampling(entry, defaults)).joined(separator: ", ") + " }", origin: entry.origin)
        }
    }

    /// Sampling keys that differ from the defaults.
    func sampling(_ entry: ImportedEntry, _ defaults: (Double, Int)) -> [String] {
        (entry.temperature == defaults.0 ? [] : ["temperature: \(Self.number(entry.temperature))"])
            + (entry.maxTokens == defaults.1 ? [] : ["max_tokens: \(entry.maxTokens)"])
    }

    func declaration(_ model: ImportedModel) -> String {
        var fields = ["provider: \(model.provider.provider)", "model: \(Self.quoted(model.archonID))"]
        if let baseURL = model.provider.baseURL { fields.append("base_url: \(Self.quoted(baseURL))") }
        let key = model.provider.keyVariable ?? (model.provider.baseURL == nil ? Self.defaultKey(model.provider.provider) : nil)
        if let key, model.provider.keyVariable != nil || options.keyRotation > 1 {
            let names = [key] + (options.keyRotation > 1 ? (2...options.keyRotation).map { "\(key)_\($0)" } : [])
            fields.append("api_key_env: " + (names.count == 1 ? names[0] : "[\(names.joined(separator: ", "))]"))
        }
        if let window = model.contextWindow { fields.append("context_window: \(window)") }
        return "{ " + fields.joined(separator: ", ") + " }"
    }

    static func defaultKey(_ provider: String) -> String? {
        switch provider {
        case "openai": "OPENAI_API_KEY"
        case "anthropic": "ANTHROPIC_API_KEY"
        default: nil
        }
    }

    mutating func emit(_ line: String, origin: ArchonOrigin? = nil) {
        lines.append(line)
        if let origin { origins[lines.count] = origin }
    }

    /// A double-quoted YAML string (JSON escapes are YAML escapes).
    static func quoted(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/")
    }

    /// A number as YAML reads it back: `0.7`, `1`, `1.25`.
    static func number(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
