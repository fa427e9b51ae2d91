import StrataDiagnostics

/// A YAML node with the source range it was written at. Aliases are resolved
/// to the node they name (shared, not copied), so the tree is a plain value.
package struct YAMLNode: Sendable {
    package enum ScalarStyle: Sendable, Equatable {
        case plain, singleQuoted, doubleQuoted, literal, folded
    }

    package struct Scalar: Sendable, Equatable {
        package var value: String
        package var style: ScalarStyle
        /// The explicit tag (`!!str`, `!!int`), if any.
        package var tag: String?

        package init(value: String, style: ScalarStyle, tag: String? = nil) {
            self.value = value
            self.style = style
            self.tag = tag
        }
    }

    package struct Pair: Sendable {
        package var key: YAMLNode
        package var value: YAMLNode

        package init(key: YAMLNode, value: YAMLNode) {
            self.key = key
            self.value = value
        }
    }

    package indirect enum Content: Sendable {
        case scalar(Scalar)
        case sequence([YAMLNode])
        case mapping([Pair])
    }

    package var content: Content
    package var range: SourceRange

    package init(_ content: Content, range: SourceRange) {
        self.content = content
        self.range = range
    }

    /// The scalar, if this node is one.
    package var scalar: Scalar? {
        if case .scalar(let scalar) = content { scalar } else { nil }
    }

    /// A plain scalar that YAML resolves to null (`~`, `null`, or nothing).
    package var isNull: Bool {
        guard let scalar, scalar.style == .plain, scalar.tag == nil else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.value)
    }

    /// What kind of value this is, in words for diagnostics ("a mapping", "the string 'ten'").
    package var kindDescription: String {
        switch content {
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .scalar(let scalar):
            if isNull { return "nothing (null)" }
            if scalar.style == .plain {
                if Bool(yamlPlain: scalar.value) != nil { return "the boolean \(scalar.value)" }
                if Int(scalar.value) != nil || Double(scalar.value) != nil { return "the number \(scalar.value)" }
            }
            let shown = scalar.value.count > 40 ? String(scalar.value.prefix(37)) + "..." : scalar.value
            return "the string '\(shown)'"
        }
    }
}

extension Bool {
    /// YAML 1.2 core-schema booleans, plus the YAML 1.1 words people still write.
    package init?(yamlPlain text: String) {
        switch text {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": self = true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": self = false
        default: return nil
        }
    }
}
