import StrataDiagnostics
import StrataYAML

/// Fills a pipeline template with one configuration's values. The result
/// keeps the template's source ranges, so the checker's diagnostics about a
/// configuration point at the template lines that produced them.
///
/// In a template, a plain scalar `$name` or `${expression}` is replaced by its
/// value (a ranked model list becomes a YAML list); a list item may carry
/// directives: `$if: EXPR` keeps it only when EXPR holds, `$each: EXPR` repeats
/// it for each element of a list or `1…n` for a number (the element is `$it`,
/// or the name given by `$as`), and `$splice: [...]` inserts several items in
/// its place — a repeated block of layers.
enum TemplateExpander {
    /// The expression text of a scalar that reads a value, if it is one.
    static func reference(in scalar: YAMLNode.Scalar) -> String? {
        guard scalar.style != .literal, scalar.style != .folded, scalar.value.hasPrefix("$") else { return nil }
        // `${…}` may be quoted (flow mappings need it); `$name` is plain.
        if scalar.value.hasPrefix("${"), scalar.value.hasSuffix("}") { return String(scalar.value.dropFirst(2).dropLast()) }
        guard scalar.style == .plain else { return nil }
        let name = scalar.value.dropFirst()
        guard isIdentifier(name) else { return nil }
        return String(name)
    }

    struct Failure: Error, Sendable {
        var diagnostic: Diagnostic
    }

    /// Repetitions one `$each` may make, and nodes one filled template may hold:
    /// a pipeline has a few dozen layers, and these bounds are checked before allocating.
    static let maxEachCount = 1_000
    static let maxNodes = 200_000

    static func expand(_ template: YAMLNode, bindings: [String: AxisValue]) throws(Failure) -> YAMLNode {
        var produced = 0
        var results = try expandItem(template, bindings: bindings, inSequence: false, produced: &produced)
        return results.removeFirst()
    }

    /// One template node becomes zero or more nodes (only list items can become other than one).
    private static func expandItem(_ node: YAMLNode, bindings: [String: AxisValue], inSequence: Bool, produced: inout Int) throws(Failure) -> [YAMLNode] {
        produced += 1
        if produced > maxNodes {
            throw Failure(
                diagnostic: Diagnostic(
                    .limitExceeded, "filling the template makes more than \(maxNodes) nodes", at: node.range,
                    notes: [DiagnosticNote("nested '$each' repetitions multiply; lower their counts")]))
        }
        switch node.content {
        case .scalar(let scalar):
            guard let text = reference(in: scalar) else { return [node] }
            let value = try evaluate(text, at: node.range, bindings: bindings)
            guard let value else {
                throw Failure(
                    diagnostic: Diagnostic(
                        .searchExpression, "'\(scalar.value)' has no value in this configuration", at: node.range,
                        notes: [DiagnosticNote("it reads an axis whose condition does not hold; guard the item with '$if'")]))
            }
            return [Self.node(for: value, at: node.range)]
        case .sequence(let items):
            var expanded: [YAMLNode] = []
            for item in items { expanded += try expandItem(item, bindings: bindings, inSequence: true, produced: &produced) }
            return [YAMLNode(.sequence(expanded), range: node.range)]
        case .mapping(let pairs):
            let directives = Dictionary(
                pairs.compactMap { pair in pair.key.scalar.flatMap { $0.value.hasPrefix("$") ? ($0.value, pair.value) : nil } },
                uniquingKeysWith: { first, _ in first })
            if directives.isEmpty || !inSequence {
                var expanded: [YAMLNode.Pair] = []
                for pair in pairs {
                    let value = try expandItem(pair.value, bindings: bindings, inSequence: false, produced: &produced)
                    expanded.append(YAMLNode.Pair(key: pair.key, value: value[0]))
                }
                return [YAMLNode(.mapping(expanded), range: node.range)]
            }
            if let condition = directives["$if"], let text = condition.scalar?.value {
                guard try evaluate(text.hasPrefix("${") ? String(text.dropFirst(2).dropLast()) : text, at: condition.range, bindings: bindings).truthValue
                else {
                    return []
                }
            }
            var iterations: [[String: AxisValue]] = [bindings]
            if let each = directives["$each"], let text = each.scalar?.value {
                let variable = directives["$as"]?.scalar?.value ?? "it"
                let source = try evaluate(text.hasPrefix("${") ? String(text.dropFirst(2).dropLast()) : text, at: each.range, bindings: bindings)
                let elements: [AxisValue]
                switch source {
                case .list(let values)?: elements = values.map(AxisValue.string)
                case .int(let count)?:
                    guard count <= maxEachCount else {
                        throw Failure(
                            diagnostic: Diagnostic(.limitExceeded, "'$each' would repeat \(count) times; at most \(maxEachCount) are allowed", at: each.range))
                    }
                    elements = count > 0 ? (1...count).map(AxisValue.int) : []
                case nil: elements = []
                default:
                    throw Failure(diagnostic: Diagnostic(.searchExpression, "'$each' needs a list or a count, not \(source!.expressionText)", at: each.range))
                }
                iterations = elements.map { element in bindings.merging([variable: element]) { _, new in new } }
            }
            var expanded: [YAMLNode] = []
            for iteration in iterations {
                if let splice = directives["$splice"], case .sequence(let items) = splice.content {
                    for item in items { expanded += try expandItem(item, bindings: iteration, inSequence: true, produced: &produced) }
                } else {
                    var kept: [YAMLNode.Pair] = []
                    for pair in pairs where pair.key.scalar?.value.hasPrefix("$") != true {
                        kept.append(
                            YAMLNode.Pair(key: pair.key, value: try expandItem(pair.value, bindings: iteration, inSequence: false, produced: &produced)[0]))
                    }
                    expanded.append(YAMLNode(.mapping(kept), range: node.range))
                }
            }
            return expanded
        }
    }

    private static func evaluate(_ text: String, at range: SourceRange, bindings: [String: AxisValue]) throws(Failure) -> AxisValue? {
        do {
            return try SearchExpression.parse(text).evaluate(bindings)
        } catch let error as SearchExpression.ParseError {
            throw Failure(diagnostic: Diagnostic(.searchExpression, "'\(text)' does not parse: \(error.message)", at: range))
        } catch let error as SearchExpression.EvaluationError {
            throw Failure(diagnostic: Diagnostic(.searchExpression, "'\(text)' cannot be evaluated: \(error.message)", at: range))
        } catch {
            throw Failure(diagnostic: Diagnostic(.searchExpression, "'\(text)': \(error)", at: range))
        }
    }

    /// A value as a YAML node at `range`.
    static func node(for value: AxisValue, at range: SourceRange) -> YAMLNode {
        switch value {
        case .int(let int): YAMLNode(.scalar(.init(value: String(int), style: .plain)), range: range)
        case .bool(let bool): YAMLNode(.scalar(.init(value: String(bool), style: .plain)), range: range)
        case .number(let text): YAMLNode(.scalar(.init(value: text, style: .plain)), range: range)
        case .string(let string): YAMLNode(.scalar(.init(value: string, style: .doubleQuoted)), range: range)
        case .list(let values): YAMLNode(.sequence(values.map { YAMLNode(.scalar(.init(value: $0, style: .doubleQuoted)), range: range) }), range: range)
        }
    }
}
