/// The text of one source file, split into lines for snippets.
public struct SourceFile: Sendable {
    /// The file's path.
    public let path: String
    /// Its text.
    public let text: String
    /// Lines without their terminators, as arrays of scalars so columns index directly.
    private let lines: [Substring]

    /// A source file.
    public init(path: String, text: String) {
        self.path = path
        self.text = text
        self.lines = Self.lines(of: text)
    }

    /// The lines of `text` without their terminators. `\n`, `\r\n` and a lone `\r`
    /// each end a line, as they do for libyaml. (Splitting a `String` on the
    /// Character `"\n"` would not: `"\r\n"` is one Character.)
    public static func lines(of text: String) -> [Substring] {
        var lines: [Substring] = []
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        var index = start
        while index != scalars.endIndex {
            let scalar = scalars[index]
            if scalar == "\n" || scalar == "\r" {
                lines.append(Substring(scalars[start..<index]))
                var next = scalars.index(after: index)
                if scalar == "\r", next != scalars.endIndex, scalars[next] == "\n" { next = scalars.index(after: next) }
                start = next
                index = next
            } else {
                index = scalars.index(after: index)
            }
        }
        lines.append(Substring(scalars[start..<scalars.endIndex]))
        return lines
    }

    /// Line `number` (1-based), or nil past the end.
    public func line(_ number: Int) -> Substring? {
        guard number >= 1, number <= lines.count else { return nil }
        return lines[number - 1]
    }

    /// The number of lines.
    public var lineCount: Int { lines.count }
}

/// Where diagnostics look up the text they point into.
public struct SourceMap: Sendable {
    private var files: [String: SourceFile] = [:]

    /// An empty map.
    public init() {}

    /// Adds a file, replacing one at the same path.
    public mutating func add(_ file: SourceFile) { files[file.path] = file }

    /// The file at `path`.
    public subscript(path: String) -> SourceFile? { files[path] }

    /// Every file read, sorted by path.
    public var all: [SourceFile] { files.keys.sorted().compactMap { files[$0] } }
}

/// Bytes that are not UTF-8 text, and where the first bad byte is.
package struct InvalidUTF8: Error, Sendable, CustomStringConvertible {
    package var location: SourceLocation
    package var byteOffset: Int

    package var description: String { "not UTF-8 text: an invalid byte at line \(location.line), column \(location.column)" }

    /// Decodes `bytes` as UTF-8, or says where the first invalid sequence starts.
    package static func decode(_ bytes: [UInt8]) throws -> String {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0, line = 1, column = 1
        var previousWasCR = false
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" {
                    if !previousWasCR { line += 1 }
                    column = 1
                } else if scalar == "\r" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
                previousWasCR = scalar == "\r"
                offset += UTF8.width(scalar)
            case .emptyInput:
                return String(decoding: bytes, as: UTF8.self)
            case .error:
                throw InvalidUTF8(location: SourceLocation(line: line, column: column), byteOffset: offset)
            }
        }
    }
}
