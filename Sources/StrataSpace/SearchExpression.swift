/// The small expression language of search spaces: axis conditions (`when:`),
/// template conditions (`$if:`), loop counts (`$each:`) and computed values
/// (`${rounds - 1}`). Integers, booleans, quoted strings, axis and loop
/// variable names, `+ - *`, comparisons, `and` / `or` / `not`, parentheses.
/// A name an axis or loop variable may have: a letter or `_`, then letters, digits or `_`.
func isIdentifier<S: StringProtocol>(_ text: S) -> Bool {
    guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
    return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
}

indirect enum SearchExpression: Sendable, Hashable, CustomStringConvertible {
    case literal(AxisValue)
    case name(String)
    case not(SearchExpression)
    case negate(SearchExpression)
    case binary(String, SearchExpression, SearchExpression)
    /// `min(a, b)` or `max(a, b)`.
    case call(String, SearchExpression, SearchExpression)

    /// Every name the expression reads.
    var names: Set<String> {
        switch self {
        case .literal: []
        case .name(let name): [name]
        case .not(let inner), .negate(let inner): inner.names
        case .binary(_, let lhs, let rhs), .call(_, let lhs, let rhs): lhs.names.union(rhs.names)
        }
    }

    var description: String {
        switch self {
        case .literal(let value): value.expressionText
        case .name(let name): name
        case .not(let inner): "not \(inner)"
        case .negate(let inner): "-\(inner)"
        case .binary(let op, let lhs, let rhs): "(\(lhs) \(op) \(rhs))"
        case .call(let function, let lhs, let rhs): "\(function)(\(lhs), \(rhs))"
        }
    }

    struct EvaluationError: Error, Sendable {
        var message: String
    }

    /// The value under `bindings`; an inactive axis reads as `false`/absent and
    /// makes comparisons false rather than failing, so `when: fusers > 2` on a
    /// conditional axis needs no guard.
    func evaluate(_ bindings: [String: AxisValue]) throws(EvaluationError) -> AxisValue? {
        switch self {
        case .literal(let value):
            return value
        case .name(let name):
            return bindings[name]
        case .not(let inner):
            return .bool(!(try inner.evaluate(bindings)).truthValue)
        case .negate(let inner):
            guard case .int(let value)? = try inner.evaluate(bindings) else {
                throw EvaluationError(message: "'-' needs a number in \(self)")
            }
            let (negated, overflow) = 0.subtractingReportingOverflow(value)
            if overflow { throw EvaluationError(message: "'\(self)' overflows a 64-bit integer") }
            return .int(negated)
        case .call(let function, let lhsExpression, let rhsExpression):
            guard let a = try lhsExpression.evaluate(bindings)?.numericValue, let b = try rhsExpression.evaluate(bindings)?.numericValue else {
                throw EvaluationError(message: "\(function) needs two numbers in \(self)")
            }
            return .int(function == "min" ? Swift.min(a, b) : Swift.max(a, b))
        case .binary(let op, let lhsExpression, let rhsExpression):
            let lhs = try lhsExpression.evaluate(bindings)
            if op == "and", !lhs.truthValue { return .bool(false) }
            if op == "or", lhs.truthValue { return .bool(true) }
            let rhs = try rhsExpression.evaluate(bindings)
            switch op {
            case "and", "or": return .bool(rhs.truthValue)
            case "==": return .bool(lhs == rhs)
            case "!=": return .bool(lhs != rhs)
            default: break
            }
            guard let lhs, let rhs else { return op == "+" || op == "-" || op == "*" ? nil : .bool(false) }
            guard let a = lhs.numericValue, let b = rhs.numericValue else {
                throw EvaluationError(message: "'\(op)' needs numbers, not \(lhs.expressionText) and \(rhs.expressionText)")
            }
            func checked(_ result: (partialValue: Int, overflow: Bool)) throws(EvaluationError) -> AxisValue {
                if result.overflow { throw EvaluationError(message: "'\(self)' overflows a 64-bit integer") }
                return .int(result.partialValue)
            }
            switch op {
            case "+": return try checked(a.addingReportingOverflow(b))
            case "-": return try checked(a.subtractingReportingOverflow(b))
            case "*": return try checked(a.multipliedReportingOverflow(by: b))
            case "<": return .bool(a < b)
            case "<=": return .bool(a <= b)
            case ">": return .bool(a > b)
            case ">=": return .bool(a >= b)
            default: throw EvaluationError(message: "unknown operator '\(op)'")
            }
        }
    }
}

extension SearchExpression {
    struct ParseError: Error, Sendable {
        var message: String
        /// Character offset in the expression text.
        var offset: Int
    }

    /// Tokens an expression may have. Expressions are short; the bound keeps
    /// the tree (evaluated and freed recursively) shallow whatever is written.
    static let maxTokens = 200

    /// Parses `text`; the error's offset lets the caller point at the bad token.
    static func parse(_ text: String) throws(ParseError) -> SearchExpression {
        let tokens = try tokenize(text)
        if tokens.count > maxTokens {
            throw ParseError(message: "the expression has \(tokens.count) tokens; at most \(maxTokens) are allowed", offset: tokens[maxTokens].offset)
        }
        var parser = Parser(tokens: tokens, length: text.count)
        let expression = try parser.parseOr()
        if let extra = parser.peek {
            throw ParseError(message: "unexpected '\(extra.text)' after a complete expression", offset: extra.offset)
        }
        return expression
    }

    struct Token: Sendable {
        enum Kind { case number, word, string, symbol }
        var kind: Kind
        var text: String
        var offset: Int
    }

    static func tokenize(_ text: String) throws(ParseError) -> [Token] {
        let characters = Array(text)
        var tokens: [Token] = []
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace { index += 1; continue }
            let start = index
            if character.isNumber {
                while index < characters.count, characters[index].isNumber { index += 1 }
                tokens.append(Token(kind: .number, text: String(characters[start..<index]), offset: start))
            } else if character.isLetter || character == "_" || character == "$" {
                index += 1
                while index < characters.count, characters[index].isLetter || characters[index].isNumber || characters[index] == "_" || characters[index] == "-"
                {
                    index += 1
                }
                var word = String(characters[start..<index])
                if word.hasPrefix("$") { word.removeFirst() }
                tokens.append(Token(kind: .word, text: word, offset: start))
            } else if character == "'" || character == "\"" {
                index += 1
                while index < characters.count, characters[index] != character { index += 1 }
                guard index < characters.count else { throw ParseError(message: "unterminated string", offset: start) }
                tokens.append(Token(kind: .string, text: String(characters[(start + 1)..<index]), offset: start))
                index += 1
            } else {
                let two = index + 1 < characters.count ? String(characters[index...(index + 1)]) : ""
                if ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
                    tokens.append(Token(kind: .symbol, text: two == "&&" ? "and" : two == "||" ? "or" : two, offset: start))
                    index += 2
                } else if "+-*<>()!,".contains(character) {
                    tokens.append(Token(kind: .symbol, text: character == "!" ? "not" : String(character), offset: start))
                    index += 1
                } else {
                    throw ParseError(message: "unexpected character '\(character)'", offset: start)
                }
            }
        }
        return tokens
    }

    struct Parser {
        var tokens: [Token]
        var length: Int
        var position = 0

        var peek: Token? { position < tokens.count ? tokens[position] : nil }

        mutating func take(_ texts: Set<String>) -> String? {
            guard let token = peek, token.kind == .symbol || token.kind == .word, texts.contains(token.text) else { return nil }
            position += 1
            return token.text
        }

        mutating func parseOr() throws(ParseError) -> SearchExpression {
            var lhs = try parseAnd()
            while take(["or"]) != nil { lhs = .binary("or", lhs, try parseAnd()) }
            return lhs
        }

        mutating func parseAnd() throws(ParseError) -> SearchExpression {
            var lhs = try parseNot()
            while take(["and"]) != nil { lhs = .binary("and", lhs, try parseNot()) }
            return lhs
        }

        mutating func parseNot() throws(ParseError) -> SearchExpression {
            if take(["not"]) != nil { return .not(try parseNot()) }
            return try parseComparison()
        }

        mutating func parseComparison() throws(ParseError) -> SearchExpression {
            let lhs = try parseSum()
            if let op = take(["==", "!=", "<", "<=", ">", ">="]) { return .binary(op, lhs, try parseSum()) }
            return lhs
        }

        mutating func parseSum() throws(ParseError) -> SearchExpression {
            var lhs = try parseProduct()
            while let op = take(["+", "-"]) { lhs = .binary(op, lhs, try parseProduct()) }
            return lhs
        }

        mutating func parseProduct() throws(ParseError) -> SearchExpression {
            var lhs = try parseUnary()
            while take(["*"]) != nil { lhs = .binary("*", lhs, try parseUnary()) }
            return lhs
        }

        mutating func parseUnary() throws(ParseError) -> SearchExpression {
            if take(["-"]) != nil { return .negate(try parseUnary()) }
            guard let token = peek else { throw ParseError(message: "the expression ends too early", offset: length) }
            position += 1
            switch token.kind {
            case .number:
                guard let value = Int(token.text) else { throw ParseError(message: "'\(token.text)' is too large", offset: token.offset) }
                return .literal(.int(value))
            case .string:
                return .literal(.string(token.text))
            case .word:
                switch token.text {
                case "true": return .literal(.bool(true))
                case "false": return .literal(.bool(false))
                case "and", "or", "not": throw ParseError(message: "'\(token.text)' needs a value before it", offset: token.offset)
                case "min",
                    "max" where peek?.text == "(":
                    position += 1
                    let lhs = try parseOr()
                    guard take([","]) != nil else { throw ParseError(message: "\(token.text)( needs two arguments", offset: peek?.offset ?? length) }
                    let rhs = try parseOr()
                    guard take([")"]) != nil else { throw ParseError(message: "missing ')'", offset: peek?.offset ?? length) }
                    return .call(token.text, lhs, rhs)
                default: return .name(token.text)
                }
            case .symbol:
                if token.text == "(" {
                    let inner = try parseOr()
                    guard take([")"]) != nil else { throw ParseError(message: "missing ')'", offset: peek?.offset ?? length) }
                    return inner
                }
                throw ParseError(message: "unexpected '\(token.text)'", offset: token.offset)
            }
        }
    }
}
