import Foundation
import StrataRuntime

/// One self-contained HTML page for an evaluation: the summary table, an
/// accuracy-vs-cost plot (inline SVG), and a drill-down per item — query,
/// answer, reference, score, and every layer's candidates. No network: no
/// scripts, fonts or styles are fetched.
package enum HTMLReport {
    package struct Run: Sendable {
        package var summary: EvalSummary
        package var results: [ItemResult]
        package var coverage: CoverageCurve?

        package init(summary: EvalSummary, results: [ItemResult], coverage: CoverageCurve? = nil) {
            self.summary = summary
            self.results = results
            self.coverage = coverage
        }
    }

    package static func render(
        title: String, dataset: String, scorer: String, runs: [Run], items: [DatasetItem],
        comparison: PairedComparison? = nil
    ) -> String {
        var html = HTMLPage.start(title: title)
        html += """
            <p>Dataset <code>\(escape(dataset))</code>, \(items.count) items, scored by <code>\(escape(scorer))</code>.</p>
            <h2>Summary</h2>
            <table id="summary"><thead><tr><th>pipeline</th><th>items</th><th>score</th><th>95% interval</th><th>failed</th>
            <th>calls/item (sent of asked)</th><th>tokens in/out per item</th><th>USD/item</th><th>latency p50 s</th><th>p95 s</th></tr></thead><tbody>

            """
        for run in runs {
            let s = run.summary
            html +=
                "<tr><td>\(escape(s.pipeline))</td><td>\(s.items)</td><td>\(format(s.mean, 3))</td>"
                + "<td>\(format(s.intervalLow, 3))–\(format(s.intervalHigh, 3)) (\(s.intervalMethod))</td><td>\(s.failures)</td>"
                + "<td>\(format(s.callsPerItem, 1)) of \(format(s.requestedCallsPerItem, 1))</td><td>\(format(s.inputTokensPerItem, 0)) / \(format(s.outputTokensPerItem, 0))</td>"
                + "<td>\(format(s.usdPerItem, 5))</td><td>\(format(s.latencyP50, 1))</td><td>\(format(s.latencyP95, 1))</td></tr>\n"
        }
        html += "</tbody></table>\n"
        if let comparison {
            html +=
                "<p>Paired on \(comparison.shared) shared items: \(format(comparison.meanA, 3)) vs \(format(comparison.meanB, 3)); "
                + "only the first right on \(comparison.onlyA), only the second on \(comparison.onlyB); \(escape(comparison.test)) p = \(format(comparison.pValue, 4)).</p>\n"
        }
        html += "<h2>Score against cost</h2>\n" + plot(runs.map(\.summary)) + "\n"
        for run in runs {
            guard let curve = run.coverage else { continue }
            html += "<h2>Coverage of \(escape(run.summary.pipeline))'s samples</h2>\n" + coveragePlot(curve) + "\n<pre>"
            html += escape(EvalReport.coverage(curve, pipeline: run.summary.pipeline)) + "</pre>\n"
        }
        html += "<h2>Items</h2>\n"
        let byID = Dictionary(items.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for run in runs {
            html += "<h3>\(escape(run.summary.pipeline))</h3>\n"
            for result in run.results.sorted(by: { NaturalOrder.precedes($0.itemID, $1.itemID) }) {
                let item = byID[result.itemID]
                let verdict = result.score >= 1 ? "right" : "wrong"
                html +=
                    "<details class=\"item\"><summary><span class=\"\(verdict)\">\(format(result.score, 2))</span> \(escape(result.itemID))"
                    + (result.failure.map { " — failed: \(escape($0))" } ?? "") + "</summary>\n"
                if let item { html += "<p><b>Query</b></p><pre>\(escape(item.query.messages.map(\.content).joined(separator: "\n\n")))</pre>\n" }
                html += "<p><b>Answer</b></p><pre>\(escape(result.answer ?? "(none)"))</pre>\n"
                if let reference = item?.reference { html += "<p><b>Reference</b></p><pre>\(escape(reference))</pre>\n" }
                if let detail = result.detail { html += "<p class=\"note\">\(escape(detail))</p>\n" }
                html +=
                    "<p class=\"note\">\(result.usage.calls) calls, \(result.usage.inputTokens) / \(result.usage.outputTokens) tokens, \(format(result.usage.seconds, 1)) s</p>\n"
                if !result.timeline.isEmpty { html += "<p><b>Calls in time</b></p>\n" + CallTimeline.svg(result.timeline) + "\n" }
                for layer in result.layers {
                    html +=
                        "<details><summary>layer \(layer.index + 1): \(escape(layer.kind)) — \(layer.candidatesIn) in → \(layer.candidates.count) out</summary>\n"
                    for note in layer.notes { html += "<p class=\"note\">\(escape(note))</p>\n" }
                    for (index, candidate) in layer.candidates.enumerated() {
                        let confidence = candidate.confidence.map { String(format: ", confidence %.2f", $0.pathProbability) } ?? ""
                        html += "<p>[\(index + 1)] \(escape(candidate.origin))\(confidence)</p><pre>\(escape(candidate.text))</pre>\n"
                        if let critique = candidate.critique { html += "<p class=\"note\">critique: \(escape(critique))</p>\n" }
                    }
                    html += "</details>\n"
                }
                html += "</details>\n"
            }
        }
        return html + HTMLPage.end
    }

    /// Score (with its interval) against cost per item: USD when anything cost money, else calls.
    static func plot(_ runs: [EvalSummary]) -> String {
        let width = 640.0, height = 360.0, left = 60.0, right = 20.0, top = 20.0, bottom = 50.0
        let useUSD = runs.contains { $0.usdPerItem > 0 }
        let costs = runs.map { useUSD ? $0.usdPerItem : $0.requestedCallsPerItem }
        let axis = ChartAxis(from: 0, to: max(costs.max() ?? 1, useUSD ? 1e-9 : 1))
        func x(_ cost: Double) -> Double { axis.position(cost, from: left, to: width - right) }
        func y(_ score: Double) -> Double { top + (1 - score) * (height - top - bottom) }
        var svg = frame("id=\"plot\"", width: width, height: height, left: left, right: right, y: y)
        svg += "<line x1=\"\(left)\" y1=\"\(y(0))\" x2=\"\(width - right)\" y2=\"\(y(0))\" stroke=\"#888\"/>\n"
        for tick in axis.ticks {
            svg += "<line x1=\"\(x(tick))\" y1=\"\(y(0))\" x2=\"\(x(tick))\" y2=\"\(y(0) + 4)\" stroke=\"#888\"/>"
            svg += "<text class=\"x-tick\" x=\"\(x(tick))\" y=\"\(y(0) + 16)\" font-size=\"11\" text-anchor=\"middle\">\(axis.label(tick))</text>\n"
        }
        svg +=
            "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 12)\" font-size=\"12\" text-anchor=\"middle\">\(useUSD ? "USD per item" : "model calls per item")</text>\n"
        svg +=
            "<text x=\"14\" y=\"\((top + height - bottom) / 2)\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 \((top + height - bottom) / 2))\">score</text>\n"
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
        for (index, run) in runs.enumerated() {
            let color = colors[index % colors.count]
            let cx = x(costs[index])
            svg += "<line x1=\"\(cx)\" y1=\"\(y(run.intervalLow))\" x2=\"\(cx)\" y2=\"\(y(run.intervalHigh))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            svg += "<circle cx=\"\(cx)\" cy=\"\(y(run.mean))\" r=\"5\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(cx + 8)\" y=\"\(y(run.mean) - 6)\" font-size=\"12\" fill=\"\(color)\">\(escape(run.pipeline))</text>\n"
        }
        return svg + "</svg>"
    }

    /// pass@k, majority@k, weighted@k and a verifier's figures against k (calls): the gap between
    /// coverage and the votes is what a better selector could still win.
    static func coveragePlot(_ curve: CoverageCurve) -> String {
        let width = 640.0, height = 320.0, left = 50.0, right = 130.0, top = 20.0, bottom = 40.0
        let maxK = Double(max(2, curve.samples))
        func x(_ k: Int) -> Double { left + Double(k - 1) / (maxK - 1) * (width - left - right) }
        func y(_ value: Double) -> Double { top + (1 - value) * (height - top - bottom) }
        var svg = frame("class=\"coverage\"", width: width, height: height, left: left, right: right, y: y)
        for point in curve.points {
            svg += "<text x=\"\(x(point.k))\" y=\"\(height - bottom + 16)\" font-size=\"11\" text-anchor=\"middle\">\(point.k)</text>"
        }
        svg += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 6)\" font-size=\"12\" text-anchor=\"middle\">k samples (calls)</text>\n"
        var series: [(String, String, [Double])] = [
            ("pass@k", "#1f77b4", curve.points.map(\.passAtK)), ("majority@k", "#d62728", curve.points.map(\.majorityAtK)),
        ]
        if curve.points.allSatisfy({ $0.weightedAtK != nil }) { series.append(("weighted@k", "#2ca02c", curve.points.map { $0.weightedAtK! })) }
        if curve.points.allSatisfy({ $0.verifiedAtK != nil }) {
            series.append(("verified@k", "#9467bd", curve.points.map { $0.verifiedAtK! }))
            series.append(("wrong through@k", "#ff7f0e", curve.points.map { $0.wrongLetThroughAtK ?? 0 }))
        }
        for (index, (name, color, values)) in series.enumerated() {
            let path = zip(curve.points, values).map { "\(x($0.k)),\(y($1))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(path)\"/>"
            svg += "<text x=\"\(width - right + 10)\" y=\"\(top + 16 + Double(index) * 18)\" font-size=\"12\" fill=\"\(color)\">\(name)</text>\n"
        }
        return svg + "</svg>"
    }

    /// An SVG's opening, its white ground, and the score axis from 0 to 1 with its grid lines.
    static func frame(
        _ attribute: String, width: Double, height: Double, left: Double, right: Double, y: (Double) -> Double
    ) -> String {
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" \(attribute) width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"white\"/>\n"
        for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
            svg += "<line x1=\"\(left)\" y1=\"\(y(tick))\" x2=\"\(width - right)\" y2=\"\(y(tick))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(left - 8)\" y=\"\(y(tick) + 4)\" font-size=\"11\" text-anchor=\"end\">\(format(tick, 2))</text>\n"
        }
        return svg
    }

    static func escape(_ text: String) -> String { HTMLPage.escape(text) }
    static func format(_ value: Double, _ digits: Int) -> String { HTMLPage.format(value, digits) }
}
