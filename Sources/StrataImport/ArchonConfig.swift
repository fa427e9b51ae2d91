import StrataDiagnostics

/// An Archon configuration as read from its JSON, every part with where it
/// was written and its JSON path (`$.layers[2][0]`), so whatever the importer
/// or the checker says about it points into the file the user wrote.
struct ArchonConfig: Sendable {
    var name: String?
    var layers: [ArchonLayer]
}

/// One of Archon's layers: its components in config order.
struct ArchonLayer: Sendable {
    var index: Int
    var path: String
    var range: SourceRange
    var components: [ArchonComponent]
    /// How many components the JSON lists (more than `components` when some could not be read).
    var declared: Int

    /// The components' types, when they all have one.
    var types: [ArchonComponent.Kind] { components.map(\.kind) }
}

/// One component (`{"type": "generator", "model": …}`).
struct ArchonComponent: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        case generator, fuser, critic, ranker, verifier
        case unitTestGenerator = "unit_test_generator"
        case unitTestEvaluator = "unit_test_evaluator"
    }

    var kind: Kind
    var path: String
    var range: SourceRange
    var model: String
    var modelType: String
    var temperature: Double
    var maxTokens: Int
    var samples: Int?
    var topK: Int?
    var firstK: Int?
    var firstPass: Bool
    var unitTestCap: Int?
    var lengthControl: Bool
    var noSystem: Bool
    /// Where each key was written, for diagnostics about one key.
    var keyRanges: [String: SourceRange]

    func range(of key: String) -> SourceRange { keyRanges[key] ?? range }
    func path(of key: String) -> String { "\(path).\(key)" }
}
