import Foundation
import StrataRuntime

/// One query's calls in time as an SVG, drawn as the studio draws it: a row
/// per model, a lane per call in flight at once, spans coloured by layer,
/// cache hits dashed and cancelled calls hatched, seconds on the axis.
package enum CallTimeline {
    static let palette = ["#2f6fdf", "#e07b39", "#1f9d55", "#9b59b6", "#d64545", "#16a2b8", "#8c6d31", "#e377c2", "#7f7f7f", "#bcbd22"]

    package static func svg(_ spans: [CallSpan], width: Double = 760) -> String {
        let left = 130.0, right = 14.0, top = 6.0, bottom = 30.0, lane = 14.0
        var models: [String] = []
        for span in spans where !models.contains(span.model) { models.append(span.model) }
        var placed: [(span: CallSpan, y: Double)] = [], labels: [(String, Double)] = []
        var y = top
        for model in models {
            var ends: [Double] = []
            for span in spans.filter({ $0.model == model }).sorted(by: { $0.start < $1.start }) {
                let index = ends.firstIndex { $0 <= span.start } ?? ends.count
                if index == ends.count { ends.append(0) }
                ends[index] = span.end
                placed.append((span, y + Double(index) * lane))
            }
            let rows = Double(max(1, ends.count))
            labels.append((model, y + rows * lane / 2 + 4))
            y += rows * lane + 4
        }
        let height = y + bottom
        let axis = ChartAxis(from: 0, to: spans.map(\.end).max() ?? 1)
        func x(_ seconds: Double) -> Double { axis.position(seconds, from: left, to: width - right) }
        var svg =
            "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">\n"
        svg +=
            "<defs><pattern id=\"cancelled\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f6d5d5\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#d64545\" stroke-width=\"2\"/></pattern></defs>\n"
        for tick in axis.ticks {
            svg += "<line x1=\"\(x(tick))\" y1=\"\(top)\" x2=\"\(x(tick))\" y2=\"\(height - bottom + 4)\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(x(tick))\" y=\"\(height - bottom + 16)\" text-anchor=\"middle\">\(axis.label(tick))</text>\n"
        }
        svg += "<text x=\"\((left + width) / 2)\" y=\"\(height - 2)\" text-anchor=\"middle\">seconds from the query's start</text>\n"
        for (model, at) in labels { svg += "<text x=\"\(left - 6)\" y=\"\(at)\" text-anchor=\"end\">\(HTMLPage.escape(model))</text>\n" }
        for (span, at) in placed {
            let cancelled = span.error?.contains("cancel") == true
            let fill = cancelled ? "url(#cancelled)" : palette[span.layer % palette.count]
            let style = span.cacheHit ? " fill-opacity=\"0.35\" stroke=\"#333\" stroke-dasharray=\"2 2\"" : ""
            let title =
                "\(span.operation), layer \(span.layer + 1)\(span.sample.map { ", sample \($0)" } ?? ""): "
                + String(format: "%.2f–%.2f s", span.start, span.end) + (span.cacheHit ? ", from the cache" : "") + (span.error.map { ", \($0)" } ?? "")
            svg +=
                "<rect x=\"\(x(span.start))\" y=\"\(at + 1)\" width=\"\(max(1.5, x(span.end) - x(span.start)))\" height=\"\(lane - 2)\" fill=\"\(fill)\"\(style)><title>\(HTMLPage.escape(title))</title></rect>\n"
        }
        return svg + "</svg>"
    }
}
