import StrataDiagnostics
import StrataYAML

/// Reads typed values out of YAML nodes, recording a diagnostic for every
/// mismatch and carrying on, so one pass finds every problem of a file.
struct ValueReader {
    var diagnostics: [Diagnostic] = []

    mutating func report(
        _ code: DiagnosticCode, _ message: String, at range: SourceRange,
        notes: [DiagnosticNote] = [], fixIts: [FixIt] = []
    ) {
        diagnostics.append(Diagnostic(code, message, at: range, notes: notes, fixIts: fixIts))
    }

    /// A mapping's pairs by key, after reporting unknown keys against `context`.
    /// Returns nil (and reports) when the node is not a mapping.
    mutating func mapping(_ node: YAMLNode, context: String, what: String) -> [(key: String, keyRange: SourceRange, value: YAMLNode)]? {
        guard case .mapping(let pairs) = node.content else {
            if node.isNull { return [] }
            report(.wrongType, "\(what) must be a mapping, not \(node.kindDescription)", at: node.range)
            return nil
        }
        let allowed = Vocabulary.keys(context)
        let written = Set(pairs.compactMap { $0.key.scalar?.value })
        var result: [(key: String, keyRange: SourceRange, value: YAMLNode)] = []
        for pair in pairs {
            guard let key = pair.key.scalar?.value else { continue }
            if allowed.contains(key) {
                result.append((key, pair.key.range, pair.value))
            } else if let intended = unknownKey(key, at: pair.key.range, in: what, allowed: allowed), !written.contains(intended) {
                // Read a typo as the key it most likely meant, so one slip does not
                // cascade into errors about missing settings later on.
                result.append((intended, pair.key.range, pair.value))
            }
        }
        return result
    }

    /// Reports an unknown key; returns the key it most likely meant, if any.
    @discardableResult
    mutating func unknownKey(_ key: String, at range: SourceRange, in what: String, allowed: [String]) -> String? {
        var fixIts: [FixIt] = []
        var message = "unknown key '\(key)' in \(what)"
        if let suggestion = Suggestions.closest(to: key, in: allowed) {
            message += "; did you mean '\(suggestion)'?"
            fixIts.append(.replace(range, with: suggestion, message: "replace '\(key)' with '\(suggestion)'"))
        }
        report(
            .unknownKey, message, at: range,
            notes: [DiagnosticNote("\(what) accepts: \(allowed.joined(separator: ", "))")], fixIts: fixIts)
        return Suggestions.closest(to: key, in: allowed)
    }

    mutating func string(_ node: YAMLNode, key: String) -> Located<String>? {
        guard let scalar = node.scalar, !node.isNull else {
            report(.wrongType, "'\(key)' must be text, not \(node.kindDescription)", at: node.range)
            return nil
        }
        return Located(scalar.value, at: node.range)
    }

    /// A list of strings; a single string is accepted as a list of one.
    mutating func strings(_ node: YAMLNode, key: String) -> [Located<String>] {
        if case .sequence(let items) = node.content {
            return items.compactMap { string($0, key: key) }
        }
        return string(node, key: key).map { [$0] } ?? []
    }

    mutating func int(_ node: YAMLNode, key: String, in bounds: ClosedRange<Int>? = nil, unit: String = "") -> Located<Int>? {
        guard let scalar = node.scalar, scalar.style == .plain,
            let value = Int(scalar.value.replacingOccurrences(of: "_", with: ""))
        else {
            var fixIts: [FixIt] = []
            if let scalar = node.scalar, scalar.style != .plain, let value = Int(scalar.value) {
                fixIts.append(.replace(node.range, with: String(value), message: "remove the quotes"))
            }
            report(.wrongType, "'\(key)' must be a whole number, not \(node.kindDescription)", at: node.range, fixIts: fixIts)
            return nil
        }
        if let bounds, !bounds.contains(value) {
            outOfRange(
                key, value: String(value), bounds: describe(bounds), node: node,
                clamp: String(min(max(value, bounds.lowerBound), bounds.upperBound)))
            return nil
        }
        return Located(value, at: node.range)
    }

    mutating func double(_ node: YAMLNode, key: String, in bounds: ClosedRange<Double>? = nil, positive: Bool = false) -> Located<Double>? {
        guard let scalar = node.scalar, scalar.style == .plain,
            let value = Double(scalar.value.replacingOccurrences(of: "_", with: "")), value.isFinite
        else {
            report(.wrongType, "'\(key)' must be a number, not \(node.kindDescription)", at: node.range)
            return nil
        }
        if let bounds, !bounds.contains(value) {
            outOfRange(
                key, value: scalar.value, bounds: "between \(format(bounds.lowerBound)) and \(format(bounds.upperBound))",
                node: node, clamp: format(min(max(value, bounds.lowerBound), bounds.upperBound)))
            return nil
        }
        if positive, value <= 0 {
            outOfRange(key, value: scalar.value, bounds: "greater than 0", node: node, clamp: nil)
            return nil
        }
        if !positive, bounds == nil, value < 0 {
            outOfRange(key, value: scalar.value, bounds: "at least 0", node: node, clamp: "0")
            return nil
        }
        return Located(value, at: node.range)
    }

    mutating func bool(_ node: YAMLNode, key: String) -> Located<Bool>? {
        guard let scalar = node.scalar, scalar.style == .plain, let value = Bool(yamlPlain: scalar.value) else {
            report(.wrongType, "'\(key)' must be true or false, not \(node.kindDescription)", at: node.range)
            return nil
        }
        return Located(value, at: node.range)
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ node: YAMLNode, key: String, as type: T.Type) -> Located<T>? where T.RawValue == String {
        let allowed = T.allCases.map(\.rawValue)
        guard let scalar = node.scalar, !node.isNull else {
            report(.wrongType, "'\(key)' must be one of \(allowed.joined(separator: ", ")), not \(node.kindDescription)", at: node.range)
            return nil
        }
        if let value = T(rawValue: scalar.value) { return Located(value, at: node.range) }
        var message = "'\(scalar.value)' is not a valid '\(key)'"
        var fixIts: [FixIt] = []
        if let suggestion = Suggestions.closest(to: scalar.value, in: allowed) {
            message += "; did you mean '\(suggestion)'?"
            fixIts.append(.replace(node.range, with: suggestion, message: "replace '\(scalar.value)' with '\(suggestion)'"))
        }
        report(
            .unknownValue, message, at: node.range,
            notes: [DiagnosticNote("'\(key)' accepts: \(allowed.joined(separator: ", "))")], fixIts: fixIts)
        return nil
    }

    private mutating func outOfRange(_ key: String, value: String, bounds: String, node: YAMLNode, clamp: String?) {
        report(
            .outOfRange, "'\(key)' is \(value), but it must be \(bounds)", at: node.range,
            fixIts: clamp.map { [.replace(node.range, with: $0, message: "use \($0)")] } ?? [])
    }

    private func describe(_ bounds: ClosedRange<Int>) -> String {
        bounds.upperBound == Int.max ? "at least \(bounds.lowerBound)" : "between \(bounds.lowerBound) and \(bounds.upperBound)"
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
