import Foundation
import StrataSyntax
import StrataYAML

/// Writes a filled template back out as a pipeline file: block-style YAML
/// that `strata check` accepts, with a header comment saying where it came
/// from, and include paths rewritten to stay valid from the new location.
package enum PipelineWriter {
    /// - Parameters:
    ///   - tree: a configuration's filled template.
    ///   - templatePath: the search file it came from (includes are relative to it).
    ///   - outputPath: where the text will be written.
    ///   - header: comment lines (without `# `).
    package static func render(_ tree: YAMLNode, templatePath: String, outputPath: String, header: [String]) -> String {
        var out = header.map { $0.isEmpty ? "#" : "# \($0)" }.joined(separator: "\n") + (header.isEmpty ? "" : "\n")
        guard case .mapping(let pairs) = tree.content else { return out + scalarText(tree) + "\n" }
        for pair in pairs {
            let key = pair.key.scalar?.value ?? ""
            var value = pair.value
            if key == "include" { value = rewriteIncludes(value, templatePath: templatePath, outputPath: outputPath) }
            if ["models", "defaults", "budget", "layers"].contains(key) { out += "\n" }
            out += emitPair(key: key, value: value, indent: 0)
        }
        return out
    }

    static func rewriteIncludes(_ node: YAMLNode, templatePath: String, outputPath: String) -> YAMLNode {
        func rewrite(_ node: YAMLNode) -> YAMLNode {
            guard let scalar = node.scalar else { return node }
            let absolute = URL(fileURLWithPath: SourceLoader.resolve(scalar.value, relativeTo: templatePath)).standardizedFileURL.path
            let relative = relativePath(from: URL(fileURLWithPath: outputPath).standardizedFileURL.deletingLastPathComponent().path, to: absolute)
            return YAMLNode(.scalar(.init(value: relative, style: .plain)), range: node.range)
        }
        if case .sequence(let items) = node.content { return YAMLNode(.sequence(items.map(rewrite)), range: node.range) }
        return rewrite(node)
    }

    static func relativePath(from directory: String, to path: String) -> String {
        let base = directory.split(separator: "/")
        let target = path.split(separator: "/")
        var common = 0
        while common < base.count, common < target.count, base[common] == target[common] { common += 1 }
        let ups = Array(repeating: "..", count: base.count - common)
        return (ups + target[common...].map(String.init)).joined(separator: "/")
    }

    private static func emitPair(key: String, value: YAMLNode, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        switch value.content {
        case .scalar:
            return "\(pad)\(quotedKey(key)): \(scalarText(value, indent: indent + 2))\n"
        case .sequence(let items) where items.isEmpty:
            return "\(pad)\(quotedKey(key)): []\n"
        case .mapping(let pairs) where pairs.isEmpty:
            return "\(pad)\(quotedKey(key)): {}\n"
        case .sequence, .mapping:
            if let flow = flowText(value), flow.count + indent + key.count < 90 { return "\(pad)\(quotedKey(key)): \(flow)\n" }
            return "\(pad)\(quotedKey(key)):\n" + emitBlock(value, indent: indent + 2)
        }
    }

    private static func emitBlock(_ node: YAMLNode, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        switch node.content {
        case .scalar:
            return pad + scalarText(node, indent: indent) + "\n"
        case .mapping(let pairs):
            return pairs.map { emitPair(key: $0.key.scalar?.value ?? "", value: $0.value, indent: indent) }.joined()
        case .sequence(let items):
            var out = ""
            for item in items {
                if let flow = flowText(item), flow.count + indent < 90 {
                    out += "\(pad)- \(flow)\n"
                } else if case .mapping = item.content {
                    // The first key sits on the dash's line.
                    let body = emitBlock(item, indent: indent + 2)
                    out += pad + "- " + body.dropFirst(indent + 2)
                } else {
                    out += "\(pad)-\n" + emitBlock(item, indent: indent + 2)
                }
            }
            return out
        }
    }

    /// A one-line flow form for small collections of scalars, or nil.
    private static func flowText(_ node: YAMLNode) -> String? {
        switch node.content {
        case .scalar(let scalar):
            return scalar.value.contains("\n") ? nil : scalarText(node)
        case .sequence(let items):
            let parts = items.map(flowText)
            guard !parts.contains(nil), items.allSatisfy({ $0.scalar != nil }) else { return nil }
            return "[" + parts.map { $0! }.joined(separator: ", ") + "]"
        case .mapping(let pairs):
            let parts = pairs.map { pair in flowText(pair.value).map { "\(quotedKey(pair.key.scalar?.value ?? "")): \($0)" } }
            guard !parts.contains(nil), pairs.allSatisfy({ $0.value.scalar != nil }) else { return nil }
            return "{ " + parts.map { $0! }.joined(separator: ", ") + " }"
        }
    }

    private static func quotedKey(_ key: String) -> String {
        isPlainSafe(key) ? key : quoted(key)
    }

    /// A scalar as written: plain when YAML reads it back as the same thing, a
    /// literal block for multi-line text, double-quoted otherwise.
    static func scalarText(_ node: YAMLNode, indent: Int = 2) -> String {
        guard let scalar = node.scalar else { return "" }
        if node.isNull { return "null" }
        let value = scalar.value
        if value.contains("\n"), !value.hasPrefix(" ") {
            let pad = String(repeating: " ", count: indent)
            let chomp = value.hasSuffix("\n") ? "" : "-"
            let lines = (value.hasSuffix("\n") ? String(value.dropLast()) : value).split(separator: "\n", omittingEmptySubsequences: false)
            return "|\(chomp)\n" + lines.map { $0.isEmpty ? "" : pad + $0 }.joined(separator: "\n")
        }
        if scalar.style == .plain || (isPlainSafe(value) && !looksTyped(value)) { return isPlainSafe(value) ? value : quoted(value) }
        return quoted(value)
    }

    private static func looksTyped(_ value: String) -> Bool {
        Int(value) != nil || Double(value) != nil || Bool(yamlPlain: value) != nil || ["", "~", "null", "Null", "NULL"].contains(value)
    }

    private static func isPlainSafe(_ value: String) -> Bool {
        guard let first = value.first, !value.hasSuffix(" "), !value.hasSuffix(":") else { return false }
        if "-?:,[]{}#&*!|>'\"%@` ".contains(first) { return false }
        return !value.contains(": ") && !value.contains(" #") && !value.contains("\n") && !value.contains("\t")
    }

    private static func quoted(_ value: String) -> String {
        var out = "\""
        for character in value.unicodeScalars {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if character.value < 0x20 { out += String(format: "\\x%02X", character.value) } else { out.unicodeScalars.append(character) }
            }
        }
        return out + "\""
    }
}
