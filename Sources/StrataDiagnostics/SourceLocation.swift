/// A position in a source file: 1-based line and column, columns counted in
/// Unicode scalars (the unit libyaml reports).
public struct SourceLocation: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// The line, from 1.
    public var line: Int
    /// The column, from 1, in UTF-8 bytes.
    public var column: Int

    /// A location.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// Orders locations by line, then column.
    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }

    /// `line:column`.
    public var description: String { "\(line):\(column)" }
}

/// A half-open range `[start, end)` in one file.
public struct SourceRange: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The file's path.
    public var file: String
    /// Where the range starts.
    public var start: SourceLocation
    /// Where it ends (exclusive).
    public var end: SourceLocation

    /// A range.
    public init(file: String, start: SourceLocation, end: SourceLocation) {
        self.file = file
        self.start = start
        self.end = end
    }

    /// An empty range at the start of `file`: where whole-file problems point.
    public static func startOf(_ file: String) -> SourceRange {
        let origin = SourceLocation(line: 1, column: 1)
        return SourceRange(file: file, start: origin, end: origin)
    }

    /// The smallest range covering both.
    public func union(_ other: SourceRange) -> SourceRange {
        guard other.file == file else { return self }
        return SourceRange(file: file, start: min(start, other.start), end: max(end, other.end))
    }

    /// `file:line:column` of its start.
    public var description: String { "\(file):\(start)" }
}

/// A value together with where it was written.
package struct Located<Value> {
    package var value: Value
    package var range: SourceRange

    package init(_ value: Value, at range: SourceRange) {
        self.value = value
        self.range = range
    }
}

extension Located: Sendable where Value: Sendable {}
extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}
