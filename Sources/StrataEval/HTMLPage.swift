import Foundation

/// What both self-contained HTML reports (eval and search) are made of: one
/// stylesheet, the page's frame, escaping and numbers.
package enum HTMLPage {
    /// The start of a page, through its `<h1>`.
    package static func start(title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        \(style)
        </style></head><body>
        <h1>\(escape(title))</h1>

        """
    }

    package static let end = "</body></html>\n"

    static let style = """
        body { font: 14px/1.45 -apple-system, system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #1d1d1f; padding: 0 1em; }
        table { border-collapse: collapse; margin: 1em 0; }
        th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }
        th:first-child, td:first-child { text-align: left; }
        th { background: #f3f3f3; } tr.best td { background: #eef7ee; } code { font-size: 12px; }
        details { margin: .3em 0; border: 1px solid #e5e5e5; border-radius: 6px; padding: .3em .7em; }
        summary { cursor: pointer; }
        pre { white-space: pre-wrap; background: #f6f6f6; padding: .5em; border-radius: 4px; margin: .3em 0; }
        .right { color: #0a7d32; } .wrong { color: #b3261e; } .note { color: #666; font-size: 12px; }
        svg text { font: 11px system-ui, sans-serif; }
        """

    /// Text safe inside elements and attribute values.
    package static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }

    package static func format(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
}
