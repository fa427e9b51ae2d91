import StrataDiagnostics
import StrataYAML

/// Reads an Archon configuration from its located tree (JSON is YAML, so
/// Strata's own front end gives every value a line and column). Problems are
/// diagnostics, every one of the file in one pass; a component that cannot be
/// read is left out, so later checks do not pile up on it.
struct ArchonReader {
    var diagnostics: [Diagnostic] = []

    /// Keys each component type reads; keys Archon ignores are listed separately, and any other key is a W081.
    static let readKeys: [ArchonComponent.Kind: Set<String>] = [
        .generator: ["samples", "no_system"],
        .fuser: ["samples", "length_control"],
        .critic: ["samples"],
        .ranker: ["top_k"],
        .verifier: ["samples", "first_k"],
        .unitTestGenerator: ["samples", "unit_test_cap"],
        .unitTestEvaluator: ["samples", "top_k", "first_k", "first_pass", "remove_unit_tests_from_prompt"],
    ]
    /// Keys the corpus writes and Archon never reads: dropped without a word, as Archon drops them.
    static let ignoredKeys: [ArchonComponent.Kind: Set<String>] = [
        .generator: ["top_k", "checkpoint"],
        .fuser: [
            "top_k", "checkpoint", "top_k_generations", "fuse_generations_count", "ranker_config", "remove_unit_tests_from_prompt",
            "ranker_batch_size", "use_critiques",
        ],
        .critic: ["top_k", "ranker_batch_size", "checkpoint"],
        .ranker: ["ranker_batch_size", "use_critiques", "samples", "checkpoint"],
        .verifier: ["batch_num", "checkpoint"],
        .unitTestGenerator: ["checkpoint"],
        .unitTestEvaluator: ["checkpoint"],
    ]
    static let commonKeys: Set<String> = ["type", "model", "model_type", "temperature", "max_tokens"]
    /// Keys whose absence makes Archon raise KeyError for this type.
    static let requiredKeys: [ArchonComponent.Kind: [String]] = [
        .critic: ["samples"], .ranker: ["top_k"], .verifier: ["samples"], .unitTestGenerator: ["samples"],
        .unitTestEvaluator: ["samples"],
    ]

    mutating func read(_ root: YAMLNode) -> ArchonConfig? {
        guard case .mapping(let pairs) = root.content else {
            report(.archonStructure, "an Archon configuration is a JSON object with \"name\" and \"layers\"; this is \(root.kindDescription)", at: root.range)
            return nil
        }
        var name: String?
        var layersNode: YAMLNode?
        for pair in pairs {
            let key = pair.key.scalar?.value ?? ""
            switch key {
            case "name": name = pair.value.scalar?.value
            case "layers": layersNode = pair.value
            case "custom":
                report(.archonCustomComponent, "$.custom: custom Archon components run Python code Strata does not have", at: pair.key.range)
            default:
                report(.archonIgnoredKey, "$.\(key): Archon does not read this key; ignored", at: pair.key.range)
            }
        }
        guard let layersNode else {
            report(.archonStructure, "$.layers is missing: an Archon configuration needs a list of layers", at: root.range)
            return nil
        }
        guard case .sequence(let items) = layersNode.content, !items.isEmpty else {
            report(.archonStructure, "$.layers must be a non-empty list of layers; it is \(layersNode.kindDescription)", at: layersNode.range)
            return nil
        }
        let layers = items.enumerated().compactMap { readLayer($1, index: $0) }
        return ArchonConfig(name: name, layers: layers)
    }

    /// A layer: a list of components, Archon's legacy `{"models": [...]}`, or a bare component (which Archon itself cannot run).
    mutating func readLayer(_ node: YAMLNode, index: Int) -> ArchonLayer? {
        let path = "$.layers[\(index)]"
        switch node.content {
        case .sequence(let items):
            let components = items.enumerated().compactMap { readComponent($1, path: "\(path)[\($0)]") }
            return ArchonLayer(index: index, path: path, range: node.range, components: components, declared: items.count)
        case .mapping(let pairs):
            if let models = pairs.first(where: { $0.key.scalar?.value == "models" }), case .sequence(let items) = models.value.content {
                // Archon's legacy form; it reads only "models" ("branches", which the corpus writes, is never read).
                for pair in pairs where !["models", "branches"].contains(pair.key.scalar?.value ?? "") {
                    report(.archonIgnoredKey, "\(path).\(pair.key.scalar?.value ?? ""): Archon does not read this key of a layer; ignored", at: pair.key.range)
                }
                let components = items.enumerated().compactMap { readComponent($1, path: "\(path).models[\($0)]") }
                return ArchonLayer(index: index, path: path, range: node.range, components: components, declared: items.count)
            }
            report(
                .archonBareLayer, "\(path) is a single component, not a list of them (Archon raises KeyError on it); imported as a one-component layer",
                at: node.range)
            let component = readComponent(node, path: path)
            return ArchonLayer(index: index, path: path, range: node.range, components: component.map { [$0] } ?? [], declared: 1)
        case .scalar:
            report(.archonStructure, "\(path) must be a list of components; it is \(node.kindDescription)", at: node.range)
            return nil
        }
    }

    mutating func readComponent(_ node: YAMLNode, path: String) -> ArchonComponent? {
        guard case .mapping(let pairs) = node.content else {
            report(.archonStructure, "\(path) must be a component object; it is \(node.kindDescription)", at: node.range)
            return nil
        }
        var values: [String: YAMLNode] = [:]
        var keyRanges: [String: SourceRange] = [:]
        for pair in pairs {
            guard let key = pair.key.scalar?.value else { continue }
            values[key] = pair.value
            keyRanges[key] = pair.key.range
        }
        guard let typeNode = values["type"] else {
            report(.archonStructure, "\(path) has no \"type\": Archon needs one to run it", at: node.range)
            return nil
        }
        let typeName = typeNode.scalar?.value ?? ""
        if values["custom"].flatMap({ $0.scalar.flatMap { Bool(yamlPlain: $0.value) } }) == true {
            report(.archonCustomComponent, "\(path): a custom component runs Python code Strata does not have", at: keyRanges["custom"] ?? node.range)
            return nil
        }
        guard let kind = ArchonComponent.Kind(rawValue: typeName) else {
            let known = ArchonComponent.Kind.allCases.map(\.rawValue)
            let hint = Suggestions.closest(to: typeName, in: known).map { "; did you mean '\($0)'?" } ?? ""
            report(
                .archonCustomComponent, "\(path).type: '\(typeName)' is not an Archon component type Strata imports\(hint)", at: typeNode.range,
                fixIts: Suggestions.closest(to: typeName, in: known).map { [.replace(typeNode.range, with: "\"\($0)\"")] } ?? [])
            return nil
        }
        checkKeys(kind, values: values, keyRanges: keyRanges, path: path)
        var missing = Self.commonKeys.subtracting(values.keys).subtracting(["type"]).sorted()
        missing += (Self.requiredKeys[kind] ?? []).filter { values[$0] == nil }
        if !missing.isEmpty {
            report(
                .archonStructure,
                "\(path) lacks \(missing.map { "\"\($0)\"" }.joined(separator: ", ")): Archon raises KeyError without \(missing.count == 1 ? "it" : "them")",
                at: node.range)
            return nil
        }
        var reader = ValueReading(path: path, values: values)
        let component = ArchonComponent(
            kind: kind, path: path, range: node.range, model: reader.string("model"), modelType: reader.string("model_type"),
            temperature: reader.number("temperature"), maxTokens: reader.integer("max_tokens"), samples: reader.optionalInteger("samples"),
            topK: reader.optionalInteger("top_k"), firstK: reader.optionalInteger("first_k"), firstPass: reader.flag("first_pass"),
            unitTestCap: reader.optionalInteger("unit_test_cap"), lengthControl: reader.flag("length_control"), noSystem: reader.flag("no_system"),
            keyRanges: keyRanges)
        diagnostics += reader.diagnostics
        return reader.diagnostics.isEmpty ? component : nil
    }

    /// Unknown keys are warnings (Archon ignores them too), with the key they were likely meant to be.
    mutating func checkKeys(_ kind: ArchonComponent.Kind, values: [String: YAMLNode], keyRanges: [String: SourceRange], path: String) {
        let read = Self.commonKeys.union(Self.readKeys[kind] ?? [])
        let ignored = Self.ignoredKeys[kind] ?? []
        for key in values.keys.sorted() where !read.contains(key) && !ignored.contains(key) && key != "custom" {
            let range = keyRanges[key]!
            let suggestion = Suggestions.closest(to: key, in: read)
            report(
                .archonIgnoredKey,
                "\(path).\(key): a \(kind.rawValue) does not read \"\(key)\", so Archon ignores it, and so does the import"
                    + (suggestion.map { "; did you mean \"\($0)\"?" } ?? ""),
                at: range, fixIts: suggestion.map { [.replace(range, with: "\"\($0)\"", message: "rename it to '\($0)' so it takes effect")] } ?? [])
        }
    }

    /// Errors and warnings alike: the code says which.
    mutating func report(_ code: DiagnosticCode, _ message: String, at range: SourceRange, fixIts: [FixIt] = []) {
        diagnostics.append(Diagnostic(code, message, at: range, fixIts: fixIts))
    }
}

/// Typed reads of a component's values, each wrong type an error at the value.
struct ValueReading {
    let path: String
    let values: [String: YAMLNode]
    var diagnostics: [Diagnostic] = []

    init(path: String, values: [String: YAMLNode]) {
        self.path = path
        self.values = values
    }

    mutating func string(_ key: String) -> String {
        guard let node = values[key] else { return "" }
        guard let scalar = node.scalar, !node.isNull else {
            wrong(key, node, "a string")
            return ""
        }
        return scalar.value
    }

    mutating func number(_ key: String) -> Double {
        guard let node = values[key] else { return 0 }
        guard let scalar = node.scalar, scalar.style == .plain, let value = Double(scalar.value) else {
            wrong(key, node, "a number")
            return 0
        }
        return value
    }

    mutating func integer(_ key: String) -> Int {
        optionalInteger(key) ?? 0
    }

    mutating func optionalInteger(_ key: String) -> Int? {
        guard let node = values[key], !node.isNull else { return nil }
        guard let scalar = node.scalar, scalar.style == .plain, let value = Double(scalar.value), value.rounded() == value,
            abs(value) < 1e12
        else {
            wrong(key, node, "a whole number")
            return nil
        }
        return Int(value)
    }

    mutating func flag(_ key: String) -> Bool {
        guard let node = values[key], !node.isNull else { return false }
        guard let scalar = node.scalar, scalar.style == .plain, let value = Bool(yamlPlain: scalar.value) else {
            wrong(key, node, "true or false")
            return false
        }
        return value
    }

    mutating func wrong(_ key: String, _ node: YAMLNode, _ expected: String) {
        diagnostics.append(Diagnostic(.archonStructure, "\(path).\(key) must be \(expected); it is \(node.kindDescription)", at: node.range))
    }
}
