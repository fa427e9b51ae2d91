import Foundation
import StrataDiagnostics
import StrataSyntax
import StrataYAML

/// What reading a search file produced.
public struct SearchSpaceLoadResult: Sendable {
    /// The space, when the file has no errors.
    public var space: SearchSpace?
    /// Every problem found, errors and warnings.
    public var diagnostics: [Diagnostic]
    /// The files read, for rendering the diagnostics.
    public var sources: SourceMap
    /// Whether any diagnostic is an error.
    public var hasErrors: Bool { diagnostics.containsErrors }
}

/// Reads a search file: `strata-search: 1`, `name`, `description`, `axes`,
/// `budget` (per query, as in a pipeline) and `pipeline` (the template).
/// Every problem of the file is reported in one pass, with the same
/// diagnostics machinery as pipelines.
public enum SearchSpaceLoader {
    /// The space file version this build reads.
    public static let currentVersion = 1
    /// The keys of a search file and of an axis (`Grammar/strata-search.schema.json` is kept in sync by a test).
    public static let fileKeys = ["strata-search", "name", "description", "axes", "budget", "pipeline"]
    /// The keys an axis may have.
    public static let axisKeys = ["values", "range", "step", "top", "k", "when"]

    /// True when `text` looks like a search file rather than a pipeline (its
    /// first top-level key is `strata-search`), so `strata check` can route it.
    public static func isSearchFile(text: String) -> Bool {
        text.split(separator: "\n").contains { $0.hasPrefix("strata-search:") }
    }

    /// Loads and checks the space file at `path`.
    public static func load(path: String) -> SearchSpaceLoadResult {
        do {
            return load(text: try SourceLoader.readTextFile(path), path: path)
        } catch {
            return SearchSpaceLoadResult(space: nil, diagnostics: [SourceLoader.unreadable(path, error)], sources: SourceMap())
        }
    }

    /// A space defined in code: the axes, and the pipeline template as YAML
    /// text. It is written out as a search file and read back, so it is
    /// checked exactly like one (diagnostics point into that text, at `path`).
    public static func load(
        name: String, axes: [Axis], pipeline: String, budget: QueryBudget = QueryBudget(),
        path: String = "<code>.yaml"
    ) -> SearchSpaceLoadResult {
        var text = "strata-search: \(currentVersion)\nname: \"\(name)\"\naxes:\n"
        for axis in axes { text += "  \(axis.name): \(axis.yaml)\n" }
        if !budget.description.isEmpty { text += "budget: { " + budget.entries.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + " }\n" }
        text += "pipeline:\n" + pipeline.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + "\n"
        return load(text: text, path: path)
    }

    /// Loads and checks a space from its text; `path` names it in diagnostics.
    public static func load(text: String, path: String) -> SearchSpaceLoadResult {
        var sources = SourceMap()
        let source = SourceFile(path: path, text: text)
        sources.add(source)
        let yaml = YAMLParser.parse(text, file: path)
        var reader = SpaceReader(file: path)
        reader.diagnostics = yaml.diagnostics
        guard let root = yaml.root, !yaml.diagnostics.containsErrors else {
            return SearchSpaceLoadResult(space: nil, diagnostics: reader.diagnostics.sortedForDisplay(), sources: sources)
        }
        let space = reader.read(root, source: source)
        let diagnostics = reader.diagnostics.sortedForDisplay()
        return SearchSpaceLoadResult(space: diagnostics.containsErrors ? nil : space, diagnostics: diagnostics, sources: sources)
    }
}

/// The reader behind `SearchSpaceLoader`: carries on after each problem.
struct SpaceReader {
    var file: String
    var diagnostics: [Diagnostic] = []

    mutating func report(_ code: DiagnosticCode, _ message: String, at range: SourceRange, notes: [DiagnosticNote] = [], fixIts: [FixIt] = []) {
        diagnostics.append(Diagnostic(code, message, at: range, notes: notes, fixIts: fixIts))
    }

    /// A mapping's pairs, reporting keys not in `allowed` (with a suggestion).
    mutating func pairs(_ node: YAMLNode, allowed: [String], what: String) -> [(key: String, keyRange: SourceRange, value: YAMLNode)]? {
        guard case .mapping(let pairs) = node.content else {
            report(.wrongType, "\(what) must be a mapping, not \(node.kindDescription)", at: node.range)
            return nil
        }
        var result: [(key: String, keyRange: SourceRange, value: YAMLNode)] = []
        for pair in pairs {
            guard let key = pair.key.scalar?.value else { continue }
            if allowed.contains(key) {
                result.append((key, pair.key.range, pair.value))
                continue
            }
            var message = "unknown key '\(key)' in \(what)"
            var fixIts: [FixIt] = []
            if let suggestion = Suggestions.closest(to: key, in: allowed) {
                message += "; did you mean '\(suggestion)'?"
                fixIts.append(.replace(pair.key.range, with: suggestion, message: "replace '\(key)' with '\(suggestion)'"))
            }
            report(.unknownKey, message, at: pair.key.range, notes: [DiagnosticNote("\(what) accepts: \(allowed.joined(separator: ", "))")], fixIts: fixIts)
        }
        return result
    }

    mutating func read(_ root: YAMLNode, source: SourceFile) -> SearchSpace? {
        guard let pairs = pairs(root, allowed: SearchSpaceLoader.fileKeys, what: "a search file") else { return nil }
        var name: String?
        var description: String?
        var axes: [Axis] = []
        var budget: YAMLNode?
        var template: YAMLNode?
        var sawVersion = false
        for (key, _, value) in pairs {
            switch key {
            case "strata-search":
                sawVersion = true
                if value.scalar?.value != String(SearchSpaceLoader.currentVersion) {
                    report(
                        .unsupportedVersion, "this tool reads version \(SearchSpaceLoader.currentVersion) of search files, not \(value.kindDescription)",
                        at: value.range, fixIts: [.replace(value.range, with: String(SearchSpaceLoader.currentVersion))])
                }
            case "name": name = text(value, key: key)
            case "description": description = text(value, key: key)
            case "axes": axes = readAxes(value)
            case "budget":
                if case .mapping = value.content {
                    // Checked here once, rather than as an error of every configuration.
                    _ = self.pairs(value, allowed: Vocabulary.contexts["budget"] ?? [], what: "the per-query budget")
                    budget = value
                } else {
                    report(
                        .wrongType, "'budget' must be a mapping of per-query limits (calls, usd, latency_s, …), not \(value.kindDescription)", at: value.range)
                }
            case "pipeline": template = value
            default: break
            }
        }
        if !sawVersion {
            report(
                .missingVersion, "the file does not say which version of the search language it uses", at: .startOf(file),
                notes: [DiagnosticNote("a search file starts with 'strata-search: \(SearchSpaceLoader.currentVersion)'")])
        }
        guard let template else {
            report(
                .missingKey, "a search file needs a 'pipeline:' template", at: root.range,
                notes: [DiagnosticNote("the template is a pipeline whose values may read axes: '$samples', '${rounds - 1}'")])
            return nil
        }
        if case .mapping = template.content {
        } else {
            report(.wrongType, "'pipeline' must be a pipeline mapping, not \(template.kindDescription)", at: template.range)
            return nil
        }
        if axes.isEmpty, !pairs.contains(where: { $0.key == "axes" && !$0.value.isNull && !Self.isEmptyMapping($0.value) }) {
            report(
                .axisDomain, "the space has no axes, so there is nothing to search", at: root.range,
                notes: [DiagnosticNote("declare at least one axis under 'axes:', e.g. 'samples: { range: [1, 5] }'")])
        }
        // The grid is listed in full (samplers score every configuration): bound it before anything is allocated.
        var bound = 1
        for axis in axes {
            let (product, overflow) = bound.multipliedReportingOverflow(by: max(1, axis.valueCount))
            bound = overflow ? Int.max : product
        }
        if bound > SearchSpace.maxConfigurations {
            report(
                .limitExceeded,
                "the axes allow up to \(bound == Int.max ? "more than 2^63" : String(bound)) configurations; a search space may have at most \(SearchSpace.maxConfigurations)",
                at: axes.first?.range ?? root.range,
                notes: [DiagnosticNote("the count multiplies the axes' value counts (conditions not counted); use coarser 'step's or fewer values")])
            return nil
        }
        var used: Set<String> = []
        validateTemplate(template, scope: Set(axes.map(\.name)), used: &used, inSequence: false)
        for axis in axes { used.formUnion(Self.mentionedNames(axis.conditionText ?? "")) }
        for axis in axes where !used.contains(axis.name) {
            report(
                .unusedAxis, "axis '\(axis.name)' is never read by the pipeline template", at: axis.range,
                notes: [DiagnosticNote("every value of it gives the same pipeline, so it only multiplies the space; read it as '$\(axis.name)' or remove it")])
        }
        return SearchSpace(
            name: name ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent, description: description,
            axes: axes, template: template, budget: budget, source: source)
    }

    static func isEmptyMapping(_ node: YAMLNode) -> Bool {
        if case .mapping(let pairs) = node.content { return pairs.isEmpty }
        return false
    }

    mutating func text(_ node: YAMLNode, key: String) -> String? {
        guard let scalar = node.scalar, !node.isNull else {
            report(.wrongType, "'\(key)' must be text, not \(node.kindDescription)", at: node.range)
            return nil
        }
        return scalar.value
    }

    // MARK: Axes

    mutating func readAxes(_ node: YAMLNode) -> [Axis] {
        guard case .mapping(let pairs) = node.content else {
            report(.wrongType, "'axes' must be a mapping from axis names to domains, not \(node.kindDescription)", at: node.range)
            return []
        }
        var axes: [Axis] = []
        for pair in pairs {
            guard let name = pair.key.scalar?.value else { continue }
            guard isIdentifier(name) else {
                report(
                    .axisDomain, "axis name '\(name)' is not a plain identifier", at: pair.key.range,
                    notes: [DiagnosticNote("templates and conditions read axes by name: letters, digits and '_'")])
                continue
            }
            if ["true", "false", "and", "or", "not"].contains(name) {
                report(.axisDomain, "'\(name)' is a word of the expression language and cannot name an axis", at: pair.key.range)
                continue
            }
            if let axis = readAxis(name: name, node: pair.value, keyRange: pair.key.range, earlier: axes) { axes.append(axis) }
        }
        return axes
    }

    mutating func readAxis(name: String, node: YAMLNode, keyRange: SourceRange, earlier: [Axis]) -> Axis? {
        // A bare list is shorthand for `values:`.
        if case .sequence = node.content {
            guard let values = choiceValues(node, axis: name) else { return nil }
            return Axis(name: name, domain: .choice(values), condition: nil, conditionText: nil, range: keyRange)
        }
        guard let pairs = pairs(node, allowed: SearchSpaceLoader.axisKeys, what: "axis '\(name)'") else { return nil }
        var fields: [String: YAMLNode] = [:]
        for (key, _, value) in pairs { fields[key] = value }
        var condition: SearchExpression?
        var conditionText: String?
        if let when = fields["when"] {
            conditionText = when.scalar?.value
            condition = expression(when, scope: Set(earlier.map(\.name)), what: "the condition of axis '\(name)'")
        }
        let kinds = ["values", "range", "top"].filter { fields[$0] != nil }
        guard kinds.count == 1 else {
            report(
                .axisDomain, kinds.isEmpty ? "axis '\(name)' has no domain" : "axis '\(name)' has more than one domain (\(kinds.joined(separator: ", ")))",
                at: keyRange, notes: [DiagnosticNote("give exactly one of 'values: [...]', 'range: [low, high]' (with 'step:'), or 'top: [models]' with 'k:'")])
            return nil
        }
        var domain: Axis.Domain?
        switch kinds[0] {
        case "values":
            if let values = choiceValues(fields["values"]!, axis: name) { domain = .choice(values) }
        case "range":
            domain = integerRange(fields["range"]!, step: fields["step"], axis: name)
        default:
            domain = topK(fields["top"]!, k: fields["k"], axis: name, keyRange: keyRange)
        }
        if kinds[0] != "range", let step = fields["step"] {
            report(.axisDomain, "'step' only applies to a 'range' axis", at: step.range)
        }
        if kinds[0] != "top", let k = fields["k"] {
            report(.axisDomain, "'k' only applies to a 'top' (ranked model list) axis", at: k.range)
        }
        guard let domain else { return nil }
        return Axis(name: name, domain: domain, condition: condition, conditionText: conditionText, range: keyRange)
    }

    mutating func choiceValues(_ node: YAMLNode, axis: String) -> [AxisValue]? {
        guard case .sequence(let items) = node.content else {
            report(.axisDomain, "the values of axis '\(axis)' must be a list, not \(node.kindDescription)", at: node.range)
            return nil
        }
        guard !items.isEmpty else {
            report(.axisDomain, "axis '\(axis)' has an empty list of values", at: node.range)
            return nil
        }
        var values: [AxisValue] = []
        for item in items {
            guard let scalar = item.scalar, !item.isNull else {
                report(.axisDomain, "a value of axis '\(axis)' must be a number, boolean or word, not \(item.kindDescription)", at: item.range)
                continue
            }
            let value = Self.value(of: scalar)
            if values.contains(value) {
                report(
                    .axisDomain, "axis '\(axis)' lists \(value) twice", at: item.range, fixIts: [.replace(item.range, with: "", message: "remove the repeat")])
                continue
            }
            values.append(value)
        }
        return values.isEmpty ? nil : values
    }

    static func value(of scalar: YAMLNode.Scalar) -> AxisValue {
        if scalar.style == .plain {
            if let int = Int(scalar.value) { return .int(int) }
            if let bool = Bool(yamlPlain: scalar.value) { return .bool(bool) }
            if let number = Double(scalar.value), number.isFinite { return .number(scalar.value) }
        }
        return .string(scalar.value)
    }

    mutating func integerRange(_ node: YAMLNode, step stepNode: YAMLNode?, axis: String) -> Axis.Domain? {
        guard case .sequence(let items) = node.content, items.count == 2,
            let low = items[0].scalar.flatMap({ Int($0.value) }), let high = items[1].scalar.flatMap({ Int($0.value) })
        else {
            report(.axisDomain, "the range of axis '\(axis)' must be two integers [low, high], not \(node.kindDescription)", at: node.range)
            return nil
        }
        guard low <= high else {
            report(
                .axisDomain, "the range of axis '\(axis)' is empty: \(low) > \(high)", at: node.range,
                fixIts: [.replace(node.range, with: "[\(high), \(low)]", message: "swap the bounds")])
            return nil
        }
        var step = 1
        if let stepNode {
            guard let value = stepNode.scalar.flatMap({ Int($0.value) }), value >= 1 else {
                report(.axisDomain, "the step of axis '\(axis)' must be a positive integer, not \(stepNode.kindDescription)", at: stepNode.range)
                return nil
            }
            step = value
        }
        let (span, overflow) = high.subtractingReportingOverflow(low)
        // `span / step + 1` itself overflows for [0, Int.max]: compare before adding.
        if overflow || span / step >= 10_000 {
            let (values, tooMany) = (span / step).addingReportingOverflow(1)
            let count = overflow || tooMany ? "more than 10,000" : String(values)
            report(.axisDomain, "axis '\(axis)' has \(count) values; a search axis takes at most 10,000", at: node.range)
            return nil
        }
        return .integers(low...high, step: step)
    }

    mutating func topK(_ node: YAMLNode, k kNode: YAMLNode?, axis: String, keyRange: SourceRange) -> Axis.Domain? {
        guard case .sequence(let items) = node.content, !items.isEmpty else {
            report(.axisDomain, "'top' of axis '\(axis)' must be a non-empty ranked list of model names, not \(node.kindDescription)", at: node.range)
            return nil
        }
        var models: [String] = []
        for item in items {
            guard let name = item.scalar?.value, !item.isNull else {
                report(.axisDomain, "a model of axis '\(axis)' must be a name, not \(item.kindDescription)", at: item.range)
                continue
            }
            if models.contains(name) {
                report(.axisDomain, "axis '\(axis)' ranks '\(name)' twice", at: item.range)
                continue
            }
            models.append(name)
        }
        guard !models.isEmpty else { return nil }
        var ks = Array(1...models.count)
        if let kNode {
            if case .sequence = kNode.content, let values = choiceValues(kNode, axis: axis) {
                ks = values.compactMap { if case .int(let k) = $0 { k } else { nil } }
            } else if case .mapping = kNode.content, let pairs = pairs(kNode, allowed: ["range", "step"], what: "'k' of axis '\(axis)'") {
                var fields: [String: YAMLNode] = [:]
                for (key, _, value) in pairs { fields[key] = value }
                guard let rangeNode = fields["range"], case .integers(let bounds, let step)? = integerRange(rangeNode, step: fields["step"], axis: axis) else {
                    return nil
                }
                ks = Array(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
            } else if let k = kNode.scalar.flatMap({ Int($0.value) }) {
                ks = [k]
            } else {
                report(.axisDomain, "'k' of axis '\(axis)' must be a list of counts or '{ range: [low, high] }'", at: kNode.range)
                return nil
            }
            for k in ks where k < 1 || k > models.count {
                report(
                    .axisDomain, "axis '\(axis)' takes the top \(k) of \(models.count) ranked models", at: kNode.range,
                    notes: [DiagnosticNote("k must be between 1 and the length of the 'top' list")])
                return nil
            }
        }
        return .topK(models: models, k: ks)
    }

    // MARK: Expressions and the template

    /// Parses an expression scalar and checks that every name it reads is in scope.
    /// The names an expression's text mentions, even when it does not parse,
    /// so one broken expression does not also make its axes look unused.
    static func mentionedNames(_ text: String) -> Set<String> {
        let tokens = (try? SearchExpression.tokenize(text)) ?? []
        return Set(tokens.filter { $0.kind == .word }.map(\.text))
    }

    mutating func expression(_ node: YAMLNode, scope: Set<String>, what: String) -> SearchExpression? {
        guard let scalar = node.scalar, !node.isNull else {
            report(.searchExpression, "\(what) must be an expression, not \(node.kindDescription)", at: node.range)
            return nil
        }
        var text = scalar.value
        if text.hasPrefix("${"), text.hasSuffix("}") { text = String(text.dropFirst(2).dropLast()) }
        do {
            let parsed = try SearchExpression.parse(text)
            checkNames(parsed, scope: scope, at: node.range, what: what)
            return parsed
        } catch {
            report(.searchExpression, "\(what) does not parse: \(error.message) (at character \(error.offset + 1) of '\(text)')", at: node.range)
            return nil
        }
    }

    mutating func checkNames(_ expression: SearchExpression, scope: Set<String>, at range: SourceRange, what: String) {
        for name in expression.names.sorted() where !scope.contains(name) {
            var fixIts: [FixIt] = []
            var message = "\(what) reads '\(name)', which is not an axis declared before it or a loop variable"
            if let suggestion = Suggestions.closest(to: name, in: scope) {
                message += "; did you mean '\(suggestion)'?"
                fixIts.append(FixIt(message: "read '\(suggestion)'", edits: []))
            }
            report(
                .unknownAxis, message, at: range,
                notes: [DiagnosticNote(scope.isEmpty ? "nothing is in scope here" : "in scope: \(scope.sorted().joined(separator: ", "))")],
                fixIts: fixIts)
        }
    }

    /// Checks directives and names everywhere in the template, recording which axes it reads.
    mutating func validateTemplate(_ node: YAMLNode, scope: Set<String>, used: inout Set<String>, inSequence: Bool) {
        switch node.content {
        case .scalar(let scalar):
            if let reference = TemplateExpander.reference(in: scalar) {
                _ = expression(node, scope: scope, what: "'\(scalar.value)'")
                used.formUnion(Self.mentionedNames(reference))
            }
        case .sequence(let items):
            for item in items { validateTemplate(item, scope: scope, used: &used, inSequence: true) }
        case .mapping(let pairs):
            var scope = scope
            let directives = pairs.filter { $0.key.scalar?.value.hasPrefix("$") == true }
            if !directives.isEmpty {
                if !inSequence {
                    report(
                        .templateDirective, "'\(directives[0].key.scalar!.value)' may only appear on an item of a list", at: directives[0].key.range,
                        notes: [DiagnosticNote("directives decide whether and how often a list item (a layer, a model entry) appears")])
                }
                for pair in directives {
                    let key = pair.key.scalar!.value
                    switch key {
                    case "$if", "$each":
                        _ = expression(pair.value, scope: scope, what: "'\(key)'")
                        used.formUnion(Self.mentionedNames(pair.value.scalar?.value ?? ""))
                    case "$as":
                        guard let name = pair.value.scalar?.value, isIdentifier(name) else {
                            report(.templateDirective, "'$as' names the loop variable and must be an identifier", at: pair.value.range)
                            continue
                        }
                        if !directives.contains(where: { $0.key.scalar?.value == "$each" }) {
                            report(.templateDirective, "'$as' only makes sense next to '$each'", at: pair.key.range)
                        }
                        scope.insert(name)
                    case "$splice":
                        guard case .sequence = pair.value.content else {
                            report(.templateDirective, "'$splice' takes the list of items to insert, not \(pair.value.kindDescription)", at: pair.value.range)
                            continue
                        }
                    default:
                        used.formUnion(Self.mentionedNames(pair.value.scalar?.value ?? ""))
                        let known = ["$if", "$each", "$as", "$splice"]
                        report(
                            .templateDirective,
                            "unknown directive '\(key)'" + (Suggestions.closest(to: key, in: known).map { "; did you mean '\($0)'?" } ?? ""),
                            at: pair.key.range, notes: [DiagnosticNote("directives: \(known.joined(separator: ", "))")],
                            fixIts: Suggestions.closest(to: key, in: known).map { [.replace(pair.key.range, with: $0)] } ?? [])
                    }
                }
                if directives.contains(where: { $0.key.scalar?.value == "$each" }), !directives.contains(where: { $0.key.scalar?.value == "$as" }) {
                    scope.insert("it")
                }
                let plain = pairs.filter { $0.key.scalar?.value.hasPrefix("$") != true }
                if directives.contains(where: { $0.key.scalar?.value == "$splice" }), !plain.isEmpty {
                    report(
                        .templateDirective, "an item with '$splice' inserts its list and cannot have other keys ('\(plain[0].key.scalar?.value ?? "")')",
                        at: plain[0].key.range)
                }
            }
            for pair in pairs {
                if pair.key.scalar?.value == "$splice" || pair.key.scalar?.value.hasPrefix("$") != true {
                    validateTemplate(pair.value, scope: scope, used: &used, inSequence: pair.key.scalar?.value == "$splice")
                }
            }
        }
    }
}
