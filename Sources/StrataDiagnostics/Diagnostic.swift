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

    /// Orders severities from the least to the most serious.
    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// One replacement of source text; an empty range inserts.
public struct TextEdit: Hashable, Codable, Sendable {
    /// The text replaced.
    public var range: SourceRange
    /// What replaces it.
    public var replacement: String

    /// An edit.
    public init(range: SourceRange, replacement: String) {
        self.range = range
        self.replacement = replacement
    }
}

/// A suggested change that fixes a diagnostic.
public struct FixIt: Hashable, Codable, Sendable {
    /// What the fix does, in words.
    public var message: String
    /// The edits that make it.
    public var edits: [TextEdit]

    /// A fix-it.
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
    /// The note's text.
    public var message: String
    /// Where it points, if anywhere.
    public var range: SourceRange?

    /// A note.
    public init(_ message: String, at range: SourceRange? = nil) {
        self.message = message
        self.range = range
    }
}

/// A problem found before any model call is spent: stable code, severity,
/// primary range, message, notes and fix-its. Codable so tools can read
/// `--format json`.
public struct Diagnostic: Hashable, Codable, Sendable {
    /// The stable id, e.g. `E0107`.
    public var code: DiagnosticCode
    /// Error, warning or note.
    public var severity: Severity
    /// What is wrong.
    public var message: String
    /// Where.
    public var range: SourceRange
    /// Why, and related places.
    public var notes: [DiagnosticNote]
    /// Edits that would fix it.
    public var fixIts: [FixIt]

    /// A diagnostic.
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
    /// `file:line:col: severity[CODE]: message`.
    public var description: String {
        "\(range.file):\(range.start): \(severity.rawValue)[\(code.rawValue)]: \(message)"
    }
}

extension Sequence<Diagnostic> {
    /// Whether any diagnostic is an error.
    package var containsErrors: Bool { contains { $0.severity == .error } }

    /// Sorted by file, then position, then code: the order they are printed in.
    /// Sorted by file and position, with repeats folded: past the third copy of a
    /// code and message, each becomes a line of a note on the first, so a
    /// mistake written a thousand times prints a few times (with where the others are).
    package func sortedForDisplay() -> [Diagnostic] {
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
