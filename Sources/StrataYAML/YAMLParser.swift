import CYAML
import StrataDiagnostics

/// The located tree of one YAML document, or why there is none.
package struct YAMLParseResult: Sendable {
    /// The document's root; nil when the text holds no document or cannot be read.
    package var root: YAMLNode?
    package var diagnostics: [Diagnostic]
}

/// Builds a located tree from libyaml's event stream.
///
/// Beyond what libyaml checks, it refuses duplicate keys, non-scalar keys,
/// several documents, aliases that name themselves, and alias expansions
/// past `maxExpandedNodes` (the "billion laughs" attack). `<<` merge keys work.
package enum YAMLParser {
    /// The most nodes a document may expand to once aliases are followed.
    package static let defaultMaxExpandedNodes = 100_000
    /// The deepest nesting of collections a document may have. Real pipelines
    /// nest a handful of levels; the bound keeps every later recursive walk
    /// (decoding, freeing the tree) far from the stack's end.
    package static let maxDepth = 128
    /// The largest file read, in bytes: pipelines are a few kilobytes.
    package static let maxBytes = 4 * 1024 * 1024

    package static func parse(_ text: String, file: String, maxExpandedNodes: Int = defaultMaxExpandedNodes) -> YAMLParseResult {
        var builder = TreeBuilder(
            file: file, maxExpandedNodes: maxExpandedNodes,
            lineLengths: SourceFile.lines(of: text).map { $0.unicodeScalars.count })
        if text.utf8.count > maxBytes {
            builder.fail(
                .limitExceeded, "the file is \(text.utf8.count) bytes; at most \(maxBytes) are read", at: .startOf(file),
                notes: [DiagnosticNote("pipeline and search files are a few kilobytes; this is refused so a huge file cannot exhaust memory")])
            return YAMLParseResult(root: nil, diagnostics: builder.diagnostics)
        }
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [0x0A] }  // libyaml wants a non-empty buffer pointer
        bytes.withUnsafeBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) != 0 else {
                builder.fail(.yamlSyntax, "libyaml could not be initialized", at: .startOf(file))
                return
            }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var event = yaml_event_t()
            while !builder.finished {
                guard yaml_parser_parse(&parser, &event) != 0 else {
                    builder.syntaxError(parser, bytes: buffer)
                    return
                }
                builder.handle(event)
                yaml_event_delete(&event)
            }
        }
        return YAMLParseResult(root: builder.root, diagnostics: builder.diagnostics)
    }
}

/// The mutable state of one parse: a stack of open collections.
private struct TreeBuilder {
    let file: String
    let maxExpandedNodes: Int
    var diagnostics: [Diagnostic] = []
    var root: YAMLNode?
    var finished = false
    var documents = 0

    struct Anchored { var node: YAMLNode; var weight: Int }
    var anchors: [String: Anchored] = [:]

    /// An open collection. Items and pairs are stored directly (not in an enum
    /// payload) so appending to them mutates in place: building a long list is linear.
    struct Frame {
        var isMapping: Bool
        var items: [YAMLNode] = []
        var pairs: [YAMLNode.Pair] = []
        var pendingKey: YAMLNode?
        var start: SourceLocation
        var anchor: String?
        /// Nodes this collection expands to, aliases followed.
        var weight = 1
    }
    var stack: [Frame] = []
    var expandedNodes = 0

    /// Scalars per line, so positions libyaml reports past the end clamp into the text.
    let lineLengths: [Int]

    init(file: String, maxExpandedNodes: Int, lineLengths: [Int]) {
        self.file = file
        self.maxExpandedNodes = maxExpandedNodes
        self.lineLengths = lineLengths.isEmpty ? [0] : lineLengths
    }

    func location(_ mark: yaml_mark_t) -> SourceLocation {
        let line = Int(mark.line) + 1
        guard line <= lineLengths.count else {
            return SourceLocation(line: lineLengths.count, column: lineLengths[lineLengths.count - 1] + 1)
        }
        return SourceLocation(line: line, column: min(Int(mark.column) + 1, lineLengths[line - 1] + 1))
    }

    /// The line and column (in scalars) of a byte offset into the UTF-8 text.
    func location(byteOffset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> SourceLocation {
        var line = 1, column = 1, index = 0
        let end = min(byteOffset, bytes.count)
        while index < end {
            let byte = bytes[index]
            if byte == 0x0A || byte == 0x0D {
                if byte == 0x0D, index + 1 < end, bytes[index + 1] == 0x0A { index += 1 }
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1  // a scalar starts at every byte that is not a continuation byte
            }
            index += 1
        }
        return SourceLocation(line: line, column: column)
    }

    func range(_ start: yaml_mark_t, _ end: yaml_mark_t) -> SourceRange {
        SourceRange(file: file, start: location(start), end: location(end))
    }

    mutating func fail(_ code: DiagnosticCode, _ message: String, at range: SourceRange, notes: [DiagnosticNote] = []) {
        diagnostics.append(Diagnostic(code, message, at: range, notes: notes))
        finished = true
        root = nil
    }

    mutating func syntaxError(_ parser: yaml_parser_t, bytes: UnsafeBufferPointer<UInt8>) {
        let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
        // The reader (bad bytes, control characters) reports a byte offset, not a mark.
        let at = parser.error == YAML_READER_ERROR ? location(byteOffset: parser.problem_offset, in: bytes) : location(parser.problem_mark)
        var notes: [DiagnosticNote] = []
        if let context = parser.context {
            let contextAt = location(parser.context_mark)
            notes.append(DiagnosticNote(String(cString: context), at: SourceRange(file: file, start: contextAt, end: contextAt)))
        }
        if parser.error == YAML_READER_ERROR {
            notes.append(DiagnosticNote("pipeline files must be UTF-8 text"))
        }
        let end = SourceLocation(line: at.line, column: at.column + 1)
        fail(.yamlSyntax, "YAML syntax error: \(problem)", at: SourceRange(file: file, start: at, end: end), notes: notes)
    }

    static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
    }

    mutating func handle(_ event: yaml_event_t) {
        switch event.type {
        case YAML_STREAM_END_EVENT:
            finished = true
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                fail(
                    .multipleDocuments, "a pipeline file must hold exactly one YAML document",
                    at: range(event.start_mark, event.end_mark),
                    notes: [DiagnosticNote("split the documents into separate files, or remove the '---' separator")])
            }
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            let bytes = UnsafeBufferPointer(start: data.value, count: Int(data.length))
            let value = String(decoding: bytes, as: UTF8.self)
            let style: YAMLNode.ScalarStyle =
                switch data.style {
                case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
                case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
                case YAML_LITERAL_SCALAR_STYLE: .literal
                case YAML_FOLDED_SCALAR_STYLE: .folded
                default: .plain
                }
            let node = YAMLNode(
                .scalar(.init(value: value, style: style, tag: Self.string(data.tag))),
                range: range(event.start_mark, event.end_mark))
            add(node, weight: 1, anchor: Self.string(data.anchor))
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            let at = range(event.start_mark, event.end_mark)
            if stack.contains(where: { $0.anchor == name }) {
                fail(
                    .badAlias, "alias '*\(name)' refers to the node that contains it",
                    at: at, notes: [DiagnosticNote("a node cannot include itself; the expansion would never end")])
                return
            }
            guard let anchored = anchors[name] else {
                fail(
                    .badAlias, "alias '*\(name)' names no anchor defined before it", at: at,
                    notes: [DiagnosticNote("define '&\(name)' on an earlier node")])
                return
            }
            add(anchored.node, weight: anchored.weight, anchor: nil, aliasRange: at)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            guard stack.count < YAMLParser.maxDepth else {
                fail(
                    .limitExceeded, "collections nest deeper than \(YAMLParser.maxDepth) levels here", at: range(event.start_mark, event.end_mark),
                    notes: [DiagnosticNote("pipelines nest a few levels; this is refused so a small file cannot exhaust the stack")])
                return
            }
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
            stack.append(Frame(isMapping: isMapping, start: location(event.start_mark), anchor: Self.string(anchor)))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return }
            let nodeRange = SourceRange(file: file, start: frame.start, end: location(event.end_mark))
            let node =
                frame.isMapping
                ? YAMLNode(.mapping(resolveMerges(frame.pairs)), range: nodeRange)
                : YAMLNode(.sequence(frame.items), range: nodeRange)
            add(node, weight: frame.weight, anchor: frame.anchor)
        default:
            break
        }
    }

    /// Adds a finished node to the open collection (or makes it the root).
    mutating func add(_ node: YAMLNode, weight: Int, anchor: String?, aliasRange: SourceRange? = nil) {
        if let anchor { anchors[anchor] = Anchored(node: node, weight: weight) }
        if aliasRange != nil {
            expandedNodes += weight
            if expandedNodes > maxExpandedNodes {
                fail(
                    .aliasExpansionTooLarge,
                    "aliases expand this document to more than \(maxExpandedNodes) nodes",
                    at: aliasRange!,
                    notes: [DiagnosticNote("nested aliases multiply; this is refused so a small file cannot exhaust memory")])
                return
            }
        }
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        stack[top].weight += weight
        if !stack[top].isMapping {
            stack[top].items.append(node)
        } else if let key = stack[top].pendingKey {
            stack[top].pairs.append(.init(key: key, value: node))
            stack[top].pendingKey = nil
        } else {
            if node.scalar == nil {
                diagnostics.append(Diagnostic(.complexKey, "mapping keys must be plain text, not \(node.kindDescription)", at: node.range))
            }
            stack[top].pendingKey = node
        }
    }

    /// Applies `<<` merge keys and reports duplicate keys. Explicit keys win
    /// over merged ones; among merged sources the first wins.
    mutating func resolveMerges(_ pairs: [YAMLNode.Pair]) -> [YAMLNode.Pair] {
        var explicit: [YAMLNode.Pair] = []
        var seen: [String: SourceRange] = [:]
        var merged: [YAMLNode.Pair] = []
        for pair in pairs {
            guard let key = pair.key.scalar else { continue }
            if key.value == "<<", key.style == .plain {
                let sources: [YAMLNode]
                switch pair.value.content {
                case .mapping: sources = [pair.value]
                case .sequence(let items): sources = items
                case .scalar: sources = []
                }
                for source in sources {
                    guard case .mapping(let sourcePairs) = source.content else {
                        diagnostics.append(
                            Diagnostic(.wrongType, "a '<<' merge key needs a mapping or a list of mappings, not \(source.kindDescription)", at: source.range))
                        continue
                    }
                    merged.append(contentsOf: sourcePairs)
                }
                if sources.isEmpty {
                    diagnostics.append(
                        Diagnostic(
                            .wrongType, "a '<<' merge key needs a mapping or a list of mappings, not \(pair.value.kindDescription)", at: pair.value.range))
                }
                continue
            }
            if let first = seen[key.value] {
                diagnostics.append(
                    Diagnostic(
                        .duplicateKey, "duplicate key '\(key.value)'", at: pair.key.range,
                        notes: [DiagnosticNote("'\(key.value)' is first set here", at: first)],
                        fixIts: []))
                continue
            }
            seen[key.value] = pair.key.range
            explicit.append(pair)
        }
        for pair in merged {
            guard let key = pair.key.scalar?.value, seen[key] == nil else { continue }
            seen[key] = pair.key.range
            explicit.append(pair)
        }
        return explicit
    }
}
