/// The text of one source file, split into lines for snippets.
public struct SourceFile: Sendable {
    public let path: String
    public let text: String
    /// Lines without their terminators, as arrays of scalars so columns index directly.
    private let lines: [Substring]

    public init(path: String, text: String) {
        self.path = path
        self.text = text
        var lines: [Substring] = []
        text.split(separator: "\n", omittingEmptySubsequences: false).forEach { line in
            lines.append(line.hasSuffix("\r") ? line.dropLast() : line)
        }
        self.lines = lines
    }

    /// Line `number` (1-based), or nil past the end.
    public func line(_ number: Int) -> Substring? {
        guard number >= 1, number <= lines.count else { return nil }
        return lines[number - 1]
    }

    public var lineCount: Int { lines.count }
}

/// Where diagnostics look up the text they point into.
public struct SourceMap: Sendable {
    private var files: [String: SourceFile] = [:]

    public init() {}

    public mutating func add(_ file: SourceFile) { files[file.path] = file }

    public subscript(path: String) -> SourceFile? { files[path] }

    /// Every file read, sorted by path.
    public var all: [SourceFile] { files.keys.sorted().compactMap { files[$0] } }
}
