import Foundation

/// Prints diagnostics the way swiftc and rustc do:
///
/// ```
/// quickstart.yaml:12:9: error[E010]: unknown key 'smaples' in an ensemble entry
///    |
/// 12 |         smaples: 10
///    |         ^^^^^^^ did you mean 'samples'?
///    = help: replace 'smaples' with 'samples'
/// ```
public struct DiagnosticRenderer: Sendable {
    /// The files diagnostics point into.
    public var sources: SourceMap
    /// ANSI colour; callers decide (a TTY and no `NO_COLOR`).
    public var colored: Bool

    /// Columns of a source line shown in a snippet.
    static let maxSnippetWidth = 160

    /// A renderer; `colored` adds ANSI colours.
    public init(sources: SourceMap, colored: Bool = false) {
        self.sources = sources
        self.colored = colored
    }

    /// Whether colour should be used on standard error, following https://no-color.org.
    public static func shouldColorStandardError(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return false }
        if environment["TERM"] == "dumb" { return false }
        return isatty(STDERR_FILENO) == 1
    }

    /// Renders every diagnostic, in order, and a count of errors and warnings.
    public func render(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.map(render).joined()
    }

    /// Renders one diagnostic with its source line, carets, notes and fix-its.
    public func render(_ diagnostic: Diagnostic) -> String {
        var out = ""
        let label = "\(diagnostic.severity.rawValue)[\(diagnostic.code.rawValue)]"
        out += paint("\(diagnostic.range.file):\(diagnostic.range.start): ", .bold)
        out += paint(label, diagnostic.severity == .error ? .red : .yellow, bold: true)
        out += paint(": \(diagnostic.message)", .bold) + "\n"
        out += snippet(for: diagnostic.range, color: diagnostic.severity == .error ? .red : .yellow)
        for note in diagnostic.notes {
            if let range = note.range {
                out += paint("\(range.file):\(range.start): ", .bold) + paint("note", .cyan, bold: true) + ": \(note.message)\n"
                out += snippet(for: range, color: .cyan)
            } else {
                out += "   = " + paint("note", .cyan, bold: true) + ": \(note.message)\n"
            }
        }
        for fixIt in diagnostic.fixIts {
            out += "   = " + paint("help", .green, bold: true) + ": \(fixIt.message)\n"
        }
        return out
    }

    /// Renders every diagnostic as one JSON document: `{"diagnostics": [...]}`.
    public static func json(_ diagnostics: [Diagnostic]) -> String {
        struct Document: Encodable { var diagnostics: [Diagnostic] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Document(diagnostics: diagnostics))) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private func snippet(for range: SourceRange, color: Color) -> String {
        guard let file = sources[range.file], let fullLine = file.line(range.start.line) else { return "" }
        let gutter = String(range.start.line)
        let pad = String(repeating: " ", count: gutter.count)
        var scalars = Array(fullLine.unicodeScalars)
        var startColumn = max(1, min(range.start.column, scalars.count + 1))
        var endColumn: Int
        if range.end.line == range.start.line {
            endColumn = max(startColumn + 1, min(range.end.column, scalars.count + 1))
        } else {
            endColumn = max(startColumn + 1, scalars.count + 1)
        }
        // A long line is shown as a window around the range, marked with '…' where cut.
        if scalars.count > Self.maxSnippetWidth {
            let from = max(0, min(startColumn - 1 - Self.maxSnippetWidth / 4, scalars.count - Self.maxSnippetWidth))
            let to = min(scalars.count, from + Self.maxSnippetWidth)
            let cutLeft = from > 0, cutRight = to < scalars.count
            scalars = (cutLeft ? ["…"] : []) + Array(scalars[from..<to]) + (cutRight ? ["…"] : [])
            let shift = from - (cutLeft ? 1 : 0)
            startColumn = max(1, startColumn - shift)
            endColumn = max(startColumn + 1, min(endColumn - shift, scalars.count + 1))
        }
        // Control bytes are never written to the terminal as they are.
        scalars = scalars.map { ($0.value < 0x20 && $0 != "\t") || (0x7F...0x9F).contains($0.value) ? "\u{FFFD}" : $0 }
        var line = ""
        line.unicodeScalars.append(contentsOf: scalars)
        // Keep tabs as tabs under the line so carets stay aligned in any terminal.
        let lead = scalars.prefix(startColumn - 1).map { $0 == "\t" ? "\t" : " " }.joined()
        let carets = String(repeating: "^", count: endColumn - startColumn)
        var out = paint("\(pad) |", .blue) + "\n"
        out += paint("\(gutter) |", .blue) + " \(line)\n"
        out += paint("\(pad) |", .blue) + " \(lead)" + paint(carets, color, bold: true) + "\n"
        return out
    }

    enum Color: String {
        case red = "31", green = "32", yellow = "33", blue = "34", cyan = "36", bold = "1"
    }

    private func paint(_ text: String, _ color: Color, bold: Bool = false) -> String {
        guard colored else { return text }
        let code = bold && color != .bold ? "1;\(color.rawValue)" : color.rawValue
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }
}
