import Foundation
import StrataCompiler
import StrataEval
import StrataSpace

/// One self-contained HTML page for a search: the summary, the leaderboard,
/// a score-vs-cost scatter with the Pareto front, and the best pipeline's
/// execution graph — inline SVG, no scripts, no network.
package enum SearchReport {
    package static func render(summary: SearchSummary, result: SearchResult, title: String) -> String {
        var html = HTMLPage.start(title: title)
        html += """
            <p>\(escape(summary.dataset)): \(summary.devItems) search items, \(summary.holdoutItems) held out. \(escape(summary.algorithm)),
            \(escape(summary.fidelity)), objective \(escape(summary.objective)).</p>
            <table id="summary"><tr><th>space</th><th>feasible</th><th>tried</th><th>trials run / from store</th><th>calls requested</th><th>calls sent</th><th>USD</th><th>seconds</th></tr>
            <tr><td>\(summary.spaceSize)</td><td>\(summary.feasible)</td><td>\(summary.configurationsTried)</td><td>\(summary.trialsRun) / \(summary.trialsReused)</td>
            <td>\(summary.requestedCalls)</td><td>\(summary.issuedCalls)</td><td>\(format(summary.usd, 4))</td><td>\(format(summary.seconds, 0))</td></tr></table>

            """
        if let reason = summary.stopReason { html += "<p><strong>Stopped early:</strong> \(escape(reason)); the best so far stands.</p>\n" }
        if let best = summary.best {
            html += "<h2>Best</h2><p><code>\(escape(best.configuration))</code>: \(format(best.score, 3)) on \(best.items) search items"
            if let holdout = best.holdoutScore {
                html +=
                    ", \(format(holdout, 3)) (\(format(best.holdoutLow ?? 0, 3))–\(format(best.holdoutHigh ?? 0, 3))) on \(best.holdoutItems ?? 0) held-out items"
            }
            html += ".</p>\n"
        }
        if let baseline = summary.baseline {
            html +=
                "<p>Baseline <code>\(escape(baseline.pipeline))</code>: \(format(baseline.holdoutScore, 3)) (\(format(baseline.holdoutLow, 3))–\(format(baseline.holdoutHigh, 3))) on \(baseline.holdoutItems) held-out items."
            if let comparison = summary.comparison {
                html +=
                    " Paired on \(comparison.shared) items: only the best right on \(comparison.onlyA), only the baseline on \(comparison.onlyB); \(escape(comparison.test)) p = \(format(comparison.pValue, 4))."
            }
            html += "</p>\n"
        }
        html += "<h2>Score vs cost</h2>\n" + scatter(summary.leaderboard) + "\n"
        html +=
            "<h2>Leaderboard</h2>\n<table id=\"leaderboard\"><tr><th>rank</th><th>configuration</th><th>items</th><th>score</th><th>objective</th><th>calls/query</th><th>USD/query</th><th>held out</th><th>Pareto</th></tr>\n"
        for row in summary.leaderboard {
            let holdout = row.holdoutScore.map { "\(format($0, 3)) (\(format(row.holdoutLow ?? 0, 3))–\(format(row.holdoutHigh ?? 0, 3)))" } ?? ""
            html +=
                "<tr\(row.rank == summary.best?.rank ? " class=\"best\"" : "")><td>\(row.rank)</td><td><code>\(escape(row.configuration))</code></td><td>\(row.items)</td><td>\(format(row.score, 3))</td><td>\(format(row.objective, 3))</td><td>\(row.staticCalls)</td><td>\(format(row.staticUSD, 4))</td><td>\(holdout)</td><td>\(row.paretoFront ? "●" : "")</td></tr>\n"
        }
        html += "</table>\n"
        if let best = result.best, let pipeline = best.configured.pipeline {
            html += "<h2>The best pipeline's graph</h2>\n" + graph(GraphBuilder.build(pipeline)) + "\n"
        }
        html +=
            "<h2>Trials</h2>\n<table id=\"trials\"><tr><th>#</th><th>phase</th><th>items</th><th>configuration</th><th>score</th><th>calls asked / sent</th><th>seconds</th></tr>\n"
        for trial in result.trials {
            let outcome = trial.outcome
            html +=
                "<tr><td>\(trial.number)</td><td>\(trial.phase.rawValue)</td><td>\(trial.fidelity)</td><td><code>\(escape(trial.configuration.key))</code></td><td>\(outcome.map { format($0.score, 3) } ?? escape(trial.error ?? "failed"))</td><td>\(outcome.map { "\($0.requestedCalls) / \($0.issuedCalls)" } ?? "")</td><td>\(outcome.map { format($0.seconds, 1) } ?? "")</td></tr>\n"
        }
        html += "</table>\n" + HTMLPage.end
        return html
    }

    /// Score against static calls per query; the Pareto front joined by a line.
    static func scatter(_ rows: [SearchSummary.Row]) -> String {
        let width = 640.0, height = 320.0, margin = 44.0
        guard !rows.isEmpty else { return "<p>No trials yet.</p>" }
        let costs = ChartAxis(from: Double(rows.map(\.staticCalls).min() ?? 0), to: Double(rows.map(\.staticCalls).max() ?? 1))
        let scores = ChartAxis(from: min(rows.map(\.score).min() ?? 0, 0), to: max(rows.map(\.score).max() ?? 1, 0.0001))
        func x(_ cost: Int) -> Double { costs.position(Double(cost), from: margin, to: width - margin) }
        func y(_ score: Double) -> Double { scores.position(score, from: height - margin, to: margin) }
        var svg =
            "<svg id=\"scatter\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"score against calls per query\">\n"
        svg += "<line x1=\"\(margin)\" y1=\"\(height - margin)\" x2=\"\(width - margin)\" y2=\"\(height - margin)\" stroke=\"#888\"/>"
        svg += "<line x1=\"\(margin)\" y1=\"\(margin)\" x2=\"\(margin)\" y2=\"\(height - margin)\" stroke=\"#888\"/>\n"
        svg += "<text x=\"\(width / 2 - 60)\" y=\"\(height - 8)\">calls per query (worst case)</text>"
        svg += "<text x=\"4\" y=\"\(margin - 10)\">score</text>\n"
        // Tick labels on both axes (the studio's rule).
        for tick in costs.ticks {
            let at = costs.position(tick, from: margin, to: width - margin)
            svg += "<line x1=\"\(at)\" y1=\"\(height - margin)\" x2=\"\(at)\" y2=\"\(height - margin + 4)\" stroke=\"#888\"/>"
            svg += "<text class=\"x-tick\" x=\"\(at)\" y=\"\(height - margin + 16)\" text-anchor=\"middle\">\(costs.label(tick))</text>\n"
        }
        for tick in scores.ticks {
            let at = scores.position(tick, from: height - margin, to: margin)
            svg += "<line x1=\"\(margin - 4)\" y1=\"\(at)\" x2=\"\(margin)\" y2=\"\(at)\" stroke=\"#888\"/>"
            svg += "<text class=\"y-tick\" x=\"\(margin - 6)\" y=\"\(at + 4)\" text-anchor=\"end\">\(scores.label(tick))</text>\n"
        }
        let front = rows.filter(\.paretoFront).sorted { $0.staticCalls < $1.staticCalls }
        if front.count > 1 {
            svg +=
                "<polyline fill=\"none\" stroke=\"#c33\" stroke-width=\"1.5\" points=\""
                + front.map { "\(x($0.staticCalls)),\(y($0.score))" }.joined(separator: " ") + "\"/>\n"
        }
        for row in rows {
            svg +=
                "<circle cx=\"\(x(row.staticCalls))\" cy=\"\(y(row.score))\" r=\"\(row.paretoFront ? 5 : 3.5)\" fill=\"\(row.paretoFront ? "#c33" : "#47a")\" fill-opacity=\"0.75\"><title>\(escape(row.configuration)): \(format(row.score, 3)), \(row.staticCalls) calls</title></circle>\n"
        }
        return svg + "</svg>"
    }

    /// The execution graph, left to right by depth (a node sits one column
    /// after the deepest node it depends on), with its real edges; at most 12
    /// boxes a column are drawn.
    static func graph(_ graph: ExecutionGraph) -> String {
        var depth: [Int: Int] = [:]
        var columns: [[GraphNode]] = []
        // Dependencies have smaller ids, so one pass in order settles every depth.
        for node in graph.nodes {
            let column = (node.dependencies.compactMap { depth[$0] }.max() ?? -1) + 1
            depth[node.id] = column
            while columns.count <= column { columns.append([]) }
            columns[column].append(node)
        }
        let columnWidth = 150.0, rowHeight = 30.0, shown = 12, top = 24.0
        let height = Double(min(shown, columns.map(\.count).max() ?? 1) + 1) * rowHeight + top
        var place: [Int: (Double, Double)] = [:]
        for (column, nodes) in columns.enumerated() {
            let visible = min(nodes.count, shown) + (nodes.count > shown ? 1 : 0)
            let first = top + (height - top - Double(visible) * rowHeight) / 2
            for (row, node) in nodes.prefix(shown).enumerated() { place[node.id] = (10 + Double(column) * columnWidth, first + Double(row) * rowHeight) }
        }
        var svg =
            "<svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(Double(columns.count) * columnWidth + 20))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"execution graph\">\n"
        for node in graph.nodes {
            guard let (x2, y2) = place[node.id] else { continue }
            for dependency in node.dependencies {
                guard let (x1, y1) = place[dependency] else { continue }
                svg += "<line x1=\"\(x1 + 120)\" y1=\"\(y1 + 11)\" x2=\"\(x2)\" y2=\"\(y2 + 11)\" stroke=\"#bbb\" stroke-width=\"0.8\"/>"
            }
        }
        svg += "\n"
        let layerNames = graph.layers.map(\.kind.rawValue), modelNames = graph.models.map(\.name)
        for (column, nodes) in columns.enumerated() {
            let layers = Set(nodes.map(\.layer)).sorted().compactMap { layerNames.indices.contains($0) ? layerNames[$0] : nil }
            svg += "<text x=\"\(10 + Double(column) * columnWidth)\" y=\"14\">\(escape(layers.joined(separator: ", ")))</text>\n"
            for node in nodes.prefix(shown) {
                guard let (x, y) = place[node.id] else { continue }
                var label = node.operation.rawValue
                if let call = node.call, modelNames.indices.contains(call.model) {
                    label += " " + modelNames[call.model]
                    if let sample = call.sample { label += " #\(sample + 1)" }
                }
                svg +=
                    "<rect x=\"\(x)\" y=\"\(y)\" width=\"120\" height=\"22\" rx=\"4\" fill=\"\(node.operation.isCall ? "#e8f0fb" : "#f4f4f4")\" stroke=\"#7a9cc6\"><title>\(escape(label))</title></rect>"
                svg += "<text x=\"\(x + 5)\" y=\"\(y + 15)\">\(escape(String(label.prefix(20))))</text>\n"
            }
            if nodes.count > shown, let last = nodes.prefix(shown).last, let (x, y) = place[last.id] {
                svg += "<text x=\"\(x + 5)\" y=\"\(y + rowHeight + 15)\">+\(nodes.count - shown) more</text>\n"
            }
        }
        return svg + "</svg>"
    }

    static func escape(_ text: String) -> String { HTMLPage.escape(text) }
    static func format(_ value: Double, _ digits: Int) -> String { HTMLPage.format(value, digits) }
}
