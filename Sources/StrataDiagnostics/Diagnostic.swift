/// How bad a diagnostic is.
public enum Severity: String, Codable, Sendable, Comparable {
    case note, warning, error

    private var rank: Int {
        switch self {
        case .note: 0
        case .warning: 1
        case .error: 2
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// One replacement of source text; an empty range inserts.
public struct TextEdit: Hashable, Codable, Sendable {
    public var range: SourceRange
    public var replacement: String

    public init(range: SourceRange, replacement: String) {
        self.range = range
        self.replacement = replacement
    }
}

/// A suggested change that fixes a diagnostic.
public struct FixIt: Hashable, Codable, Sendable {
    public var message: String
    public var edits: [TextEdit]

    public init(message: String, edits: [TextEdit]) {
        self.message = message
        self.edits = edits
    }

    /// Replace the text at `range` with `text`.
    public static func replace(_ range: SourceRange, with text: String, message: String? = nil) -> FixIt {
        FixIt(message: message ?? "replace with '\(text)'", edits: [TextEdit(range: range, replacement: text)])
    }
}

/// Extra information attached to a diagnostic, possibly pointing elsewhere
/// ("the critique is made here").
public struct DiagnosticNote: Hashable, Codable, Sendable {
    public var message: String
    public var range: SourceRange?

    public init(_ message: String, at range: SourceRange? = nil) {
        self.message = message
        self.range = range
    }
}

/// A problem found before any model call is spent: stable code, severity,
/// primary range, message, notes and fix-its. Codable so tools can read
/// `--format json`.
public struct Diagnostic: Hashable, Codable, Sendable {
    public var code: DiagnosticCode
    public var severity: Severity
    public var message: String
    public var range: SourceRange
    public var notes: [DiagnosticNote]
    public var fixIts: [FixIt]

    public init(
        _ code: DiagnosticCode,
        _ message: String,
        at range: SourceRange,
        notes: [DiagnosticNote] = [],
        fixIts: [FixIt] = []
    ) {
        self.code = code
        self.severity = code.severity
        self.message = message
        self.range = range
        self.notes = notes
        self.fixIts = fixIts
    }

    enum CodingKeys: String, CodingKey {
        case code, severity, message, range, notes, fixIts = "fix_its"
    }
}

extension Diagnostic: CustomStringConvertible {
    public var description: String {
        "\(range.file):\(range.start): \(severity.rawValue)[\(code.rawValue)]: \(message)"
    }
}

extension Sequence<Diagnostic> {
    /// Whether any diagnostic is an error.
    public var containsErrors: Bool { contains { $0.severity == .error } }

    /// Sorted by file, then position, then code: the order they are printed in.
    public func sortedForDisplay() -> [Diagnostic] {
        sorted {
            ($0.range.file, $0.range.start.line, $0.range.start.column, $0.code.rawValue)
                < ($1.range.file, $1.range.start.line, $1.range.start.column, $1.code.rawValue)
        }
    }
}
