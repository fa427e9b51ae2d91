import StrataDiagnostics

/// The Strata pipeline an Archon configuration becomes, before it is written
/// as YAML: every part remembers the Archon construct it came from.
struct ImportedPipeline: Sendable {
    var name: String
    var models: [ImportedModel]
    var temperature: Double
    var maxTokens: Int
    var layers: [ImportedLayer]
}

/// Where a part of the pipeline came from: its JSON path and range.
struct ArchonOrigin: Sendable {
    var path: String
    var range: SourceRange
}

struct ImportedModel: Sendable {
    var name: String
    var archonID: String
    var provider: ArchonProvider
    var contextWindow: Int?
    var origin: ArchonOrigin
}

/// An ensemble or fuse entry, or the one model of another layer kind.
struct ImportedEntry: Sendable {
    var model: String
    var samples: Int
    var temperature: Double
    var maxTokens: Int
    var origin: ArchonOrigin
}

struct ImportedLayer: Sendable {
    enum Kind: Sendable {
        case ensemble([ImportedEntry])
        case fuse([ImportedEntry], lengthControl: Bool)
        case critique(ImportedEntry)
        case rank(ImportedEntry, topK: Int)
        case verify(ImportedEntry, firstK: Int?)
        case unitTest(ImportedEntry, topK: Int?, firstK: Int?)
        case writeTests(ImportedEntry, tests: Int)
    }

    var kind: Kind
    var origin: ArchonOrigin
}
