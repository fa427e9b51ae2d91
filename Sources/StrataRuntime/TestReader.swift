import Foundation

/// Reads executable tests out of one piece of Python a test writer wrote (see `ReplyParsers.assertions`).
struct TestReader {
    struct Line {
        var indent: Int
        var text: String
    }

    /// A `def` or `class` the reader is inside: its header's indent, its setup statements, its parameter bindings.
    struct Scope {
        var indent: Int
        var setup: [String] = []
        var bindings: [String] = []
    }

    let lines: [Line]

    init(_ source: String) {
        lines = Self.logicalLines(source)
    }

    /// Physical lines joined while brackets are open or a line ends in `\`; blank and comment lines dropped.
    static func logicalLines(_ source: String) -> [Line] {
        var result: [Line] = []
        var pending: String?
        var indent = 0
        var depth = 0
        for raw in source.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if pending == nil {
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                indent = line.prefix { $0 == " " || $0 == "\t" }.reduce(0) { $0 + ($1 == "\t" ? 4 : 1) }
                pending = trimmed
            } else {
                pending! += " " + trimmed
            }
            depth += bracketBalance(trimmed)
            if depth > 0 || trimmed.hasSuffix("\\") {
                if trimmed.hasSuffix("\\") { pending!.removeLast() }
                continue
            }
            result.append(Line(indent: indent, text: pending!))
            pending = nil
            depth = 0
        }
        if let pending { result.append(Line(indent: indent, text: pending)) }
        return result
    }

    /// Opening minus closing brackets outside string literals and comments.
    static func bracketBalance(_ text: String) -> Int {
        var balance = 0
        var quote: Character?
        var escaped = false
        for character in text {
            if let open = quote {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == open { quote = nil }
                continue
            }
            switch character {
            case "\"", "'": quote = character
            case "#": return balance
            case "(", "[", "{": balance += 1
            case ")", "]", "}": balance -= 1
            default: break
            }
        }
        return balance
    }

    static let assignment = try? NSRegularExpression(pattern: #"^[A-Za-z_][A-Za-z0-9_]*(\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*\s*(:[^=]+)?=[^=]"#)
    static let definition = try? NSRegularExpression(pattern: #"^(async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)"#)

    static func matches(_ regex: NSRegularExpression?, _ text: String) -> NSTextCheckingResult? {
        regex?.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
    }

    static func isSetup(_ text: String) -> Bool {
        text.hasPrefix("import ") || (text.hasPrefix("from ") && text.contains(" import ")) || matches(assignment, text) != nil
    }

    static func isAssertion(_ text: String) -> Bool {
        text.hasPrefix("assert ") || text.hasPrefix("assert(") || text.hasPrefix("self.assert")
    }

    /// `def check(candidate)` called as `check(add)`: `candidate = add`. Only one-parameter functions called with a name.
    func bindings(forFunction name: String, parameters: String) -> [String] {
        let names = parameters.split(separator: ",").map { $0.split(separator: "=")[0].split(separator: ":")[0].trimmingCharacters(in: .whitespaces) }
        guard names.count == 1, let parameter = names.first, !parameter.isEmpty, parameter != "self" else { return [] }
        let call = try? NSRegularExpression(
            pattern: "(^|[^A-Za-z0-9_.])" + NSRegularExpression.escapedPattern(for: name) + #"\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)"#)
        for line in lines where !line.text.hasPrefix("def ") {
            if let match = Self.matches(call, line.text), let range = Range(match.range(at: 2), in: line.text) {
                return ["\(parameter) = \(line.text[range])"]
            }
        }
        return []
    }

    func tests() -> [String] {
        var tests: [String] = []
        var scopes = [Scope(indent: -1)]
        var index = 0
        while index < lines.count {
            let line = lines[index]
            while scopes.count > 1, line.indent <= scopes[scopes.count - 1].indent { scopes.removeLast() }
            if let match = Self.matches(Self.definition, line.text) {
                let name = Range(match.range(at: 2), in: line.text).map { String(line.text[$0]) } ?? ""
                let parameters = Range(match.range(at: 3), in: line.text).map { String(line.text[$0]) } ?? ""
                scopes.append(Scope(indent: line.indent, bindings: bindings(forFunction: name, parameters: parameters)))
            } else if line.text.hasPrefix("class ") {
                scopes.append(Scope(indent: line.indent))
            } else if Self.isSetup(line.text), Self.isAssertion(line.text) == false {
                scopes[scopes.count - 1].setup.append(line.text)
            } else if line.text.hasSuffix(":"), let end = blockEnd(from: index), lines[index..<end].contains(where: { Self.isAssertion($0.text) }) {
                // A loop, `with` or `if` holding asserts is one test, whole.
                let body = lines[index..<end].map { String(repeating: " ", count: max(0, $0.indent - line.indent)) + Self.rewritten($0.text) }
                tests.append(context(scopes) + body.joined(separator: "\n"))
                index = end
                continue
            } else if Self.isAssertion(line.text) {
                tests.append(context(scopes) + Self.rewritten(line.text))
            }
            index += 1
        }
        return tests
    }

    /// Doctest examples as asserts: `>>> f(1)` followed by the line `2` is `assert (f(1)) == (2)`. Examples that
    /// print, assign, import or raise are not comparisons and are left out.
    static func doctests(_ text: String) -> [String] {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        var tests: [String] = []
        for (index, line) in lines.enumerated() where line.hasPrefix(">>> ") && index + 1 < lines.count {
            let expression = String(line.dropFirst(4)).trimmingCharacters(in: .whitespaces)
            let expected = lines[index + 1]
            guard !expression.isEmpty, !expected.isEmpty, !expected.hasPrefix(">>>"), !expected.hasPrefix("...") else { continue }
            guard !expected.hasPrefix("\"\"\""), !expected.hasPrefix("'''"), !expected.hasPrefix("Traceback") else { continue }
            guard !expression.hasPrefix("print("), !isSetup(expression), bracketBalance(expression) == 0, bracketBalance(expected) == 0
            else { continue }
            let test = "assert (\(expression)) == (\(expected))"
            if !tests.contains(test) { tests.append(test) }
        }
        return tests
    }

    /// The end (exclusive) of the compound statement starting at `start`.
    func blockEnd(from start: Int) -> Int? {
        var end = start + 1
        while end < lines.count, lines[end].indent > lines[start].indent { end += 1 }
        return end > start + 1 ? end : nil
    }

    func context(_ scopes: [Scope]) -> String {
        scopes.flatMap { $0.setup + $0.bindings }.map { $0 + "\n" }.joined()
    }

    /// unittest's assertion methods as plain asserts; other lines unchanged.
    static func rewritten(_ text: String) -> String {
        guard text.hasPrefix("self.assert"), let open = text.firstIndex(of: "("), text.hasSuffix(")") else { return text }
        let method = text[text.index(text.startIndex, offsetBy: 5)..<open]
        let arguments = splitArguments(String(text[text.index(after: open)..<text.index(before: text.endIndex)]))
        func argument(_ i: Int) -> String { "(\(arguments[i]))" }
        switch (method, arguments.count) {
        case ("assertEqual", 2...), ("assertEquals", 2...): return "assert \(argument(0)) == \(argument(1))"
        case ("assertNotEqual", 2...): return "assert \(argument(0)) != \(argument(1))"
        case ("assertTrue", 1...): return "assert \(argument(0))"
        case ("assertFalse", 1...): return "assert not \(argument(0))"
        case ("assertIn", 2...): return "assert \(argument(0)) in \(argument(1))"
        case ("assertNotIn", 2...): return "assert \(argument(0)) not in \(argument(1))"
        case ("assertIsNone", 1...): return "assert \(argument(0)) is None"
        case ("assertAlmostEqual", 2...): return "assert abs(\(argument(0)) - \(argument(1))) < 1e-7"
        default: return text
        }
    }

    /// Top-level comma-separated arguments (brackets and strings respected).
    static func splitArguments(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        var quote: Character?
        var escaped = false
        for character in text {
            if let open = quote {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == open { quote = nil }
                current.append(character)
                continue
            }
            switch character {
            case "\"", "'": quote = character
            case "(", "[", "{": depth += 1
            case ")", "]", "}": depth -= 1
            case "," where depth == 0:
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { parts.append(current.trimmingCharacters(in: .whitespaces)) }
        return parts
    }
}
