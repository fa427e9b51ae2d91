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
    /// Sorted by file and position, with repeats folded: past the third copy of a
    /// code and message, each becomes a line of a note on the first, so a
    /// mistake written a thousand times prints a few times (with where the others are).
    public func sortedForDisplay() -> [Diagnostic] {
        let sorted = sorted {
            ($0.range.file, $0.range.start.line, $0.range.start.column, $0.code.rawValue)
                < ($1.range.file, $1.range.start.line, $1.range.start.column, $1.code.rawValue)
        }
        var result: [Diagnostic] = []
        var firstIndex: [String: Int] = [:]
        var repeats: [Int: [SourceRange]] = [:]
        var copies: [String: Int] = [:]
        for diagnostic in sorted {
            let key = diagnostic.code.rawValue + "\u{0}" + diagnostic.message
            copies[key, default: 0] += 1
            if copies[key]! > Self.repeatsShownInFull, let first = firstIndex[key] {
                repeats[first, default: []].append(diagnostic.range)
            } else {
                if firstIndex[key] == nil { firstIndex[key] = result.count }
                result.append(diagnostic)
            }
        }
        for (index, ranges) in repeats {
            let shown = ranges.prefix(Self.foldedPositionsShown).map { "\($0.file):\($0.start)" }.joined(separator: ", ")
            let more = ranges.count > Self.foldedPositionsShown ? ", …" : ""
            result[index].notes.append(
                DiagnosticNote("the same problem \(ranges.count == 1 ? "occurs once more" : "occurs \(ranges.count) more times") (not shown): \(shown)\(more)"))
        }
        return result
    }

    /// Copies of one diagnostic shown in full before the rest are folded.
    static var repeatsShownInFull: Int { 3 }
    /// Positions of folded repeats listed in the note.
    static var foldedPositionsShown: Int { 5 }
}
