import Foundation
import StrataSyntax

/// Reads a final answer out of a response, the same way for the vote layer
/// and for scorers. Each extractor says exactly what it accepts:
///
/// - `numeric`: the number after the last `####`, else inside the last
///   `\boxed{}`, else the last number in the text. Thousands separators
///   (`1,234`), signs, decimals and fractions (`3/4`) are read; currency signs,
///   percent signs and trailing units are ignored. The result is a canonical
///   decimal string (`1234`, `0.75`, `-2.5`), so equal numbers compare equal.
/// - `boxed`: the contents of the last `\boxed{…}` (nested braces allowed), trimmed.
/// - `code`: the first fenced code block (else the whole text), with trailing
///   spaces and blank lines removed.
/// - `exact`: the whole text, trimmed, whitespace runs folded, lower-cased,
///   a final period dropped.
package enum AnswerExtractor {
    package static func extract(_ kind: AnswerExtractorKind, from text: String) -> String? {
        switch kind {
        case .numeric: numeric(text)
        case .boxed: boxed(text)
        case .code: code(text)
        case .exact: exact(text)
        }
    }

    static func numeric(_ text: String) -> String? {
        if let marker = text.range(of: "####", options: .backwards) {
            return firstNumber(in: String(text[marker.upperBound...]))
        }
        if let boxed = boxed(text), let number = firstNumber(in: boxed) { return number }
        return lastNumber(in: text)
    }

    static func boxed(_ text: String) -> String? {
        guard let start = text.range(of: "\\boxed{", options: .backwards) else { return nil }
        var depth = 1
        var index = start.upperBound
        var content = ""
        while index < text.endIndex {
            let character = text[index]
            if character == "{" { depth += 1 }
            if character == "}" {
                depth -= 1
                if depth == 0 { return content.trimmingCharacters(in: .whitespacesAndNewlines) }
            }
            content.append(character)
            index = text.index(after: index)
        }
        return nil
    }

    static func code(_ text: String) -> String? {
        let body = ReplyParsers.fencedBlocks(text).first ?? text
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false).map {
            String($0).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        let joined = lines.joined(separator: "\n").trimmingCharacters(in: .newlines)
        return joined.isEmpty ? nil : joined
    }

    static func exact(_ text: String) -> String? {
        var folded = text.split(whereSeparator: \.isWhitespace).joined(separator: " ").lowercased()
        if folded.hasSuffix(".") { folded.removeLast() }
        return folded.isEmpty ? nil : folded
    }

    /// Numbers as written: optional sign, digits with optional thousands commas, decimals, or a fraction.
    private static let numberPattern = try? NSRegularExpression(
        pattern: #"(?<![\w.])[-−]?\$?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])[-−]?\$?\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?|(?<![\w.])[-−]?\.\d+"#)

    static func numbers(in text: String) -> [String] {
        let range = NSRange(text.startIndex..., in: text)
        return (numberPattern?.matches(in: text, range: range) ?? []).compactMap { match in
            Range(match.range, in: text).flatMap { canonical(String(text[$0])) }
        }
    }

    static func firstNumber(in text: String) -> String? { numbers(in: text).first }
    static func lastNumber(in text: String) -> String? { numbers(in: text).last }

    /// `-1,234.50` → `-1234.5`; `3/4` → `0.75`; `$5` → `5`.
    static func canonical(_ raw: String) -> String? {
        var text = raw.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "$", with: "")
            .replacingOccurrences(of: "−", with: "-").replacingOccurrences(of: " ", with: "")
        var value: Double
        if let slash = text.firstIndex(of: "/") {
            guard let numerator = Double(text[..<slash]), let denominator = Double(text[text.index(after: slash)...]), denominator != 0 else { return nil }
            value = numerator / denominator
        } else {
            if text.hasPrefix("-.") { text = "-0" + text.dropFirst() } else if text.hasPrefix(".") { text = "0" + text }
            guard let parsed = Double(text) else { return nil }
            value = parsed
        }
        if value == 0 { value = 0 }  // no "-0"
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        var formatted = String(format: "%.10f", value)
        while formatted.hasSuffix("0") { formatted.removeLast() }
        if formatted.hasSuffix(".") { formatted.removeLast() }
        return formatted
    }
}
