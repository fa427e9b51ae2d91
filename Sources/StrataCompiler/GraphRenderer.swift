import Foundation
import StrataChecker
import StrataSyntax

/// The formats `strata compile --emit` writes.
public enum EmitFormat: String, Sendable, CaseIterable, Codable {
    /// The graph and its cost as JSON, for tools.
    case json
    /// Graphviz.
    case dot
    /// A Mermaid flowchart, for Markdown.
    case mermaid
    /// A table of the worst-case cost per layer.
    case cost
}

/// Renders a compiled graph in the `EmitFormat`s.
package struct GraphRenderer: Sendable {
    package var graph: ExecutionGraph
    package var pipeline: CheckedPipeline
    package var cost: CostSummary

    package init(graph: ExecutionGraph, pipeline: CheckedPipeline, cost: CostSummary) {
        self.graph = graph
        self.pipeline = pipeline
        self.cost = cost
    }

    package func render(_ format: EmitFormat) -> String {
        switch format {
        case .json: json()
        case .dot: dot()
        case .mermaid: mermaid()
        case .cost: costTable()
        }
    }

    func label(_ node: GraphNode) -> String {
        var parts = [node.operation.rawValue]
        if let model = node.model { parts.append(graph.models[model].name) }
        if let sample = node.sample {
            parts.append(node.completions > 1 ? "#\(sample)–\(sample + node.completions - 1) (n=\(node.completions))" : "#\(sample)")
        }
        if let candidate = node.candidate { parts.append("[\(candidate + 1)]") }
        if node.operation == .selectTopK || node.operation == .selectByTests,
            let k = pipeline.layers.first(where: { $0.index == node.layer })?.topK
        {
            parts.append("k=\(k)")
        }
        return parts.joined(separator: " ")
    }

    func json() -> String {
        struct Document: Encodable {
            var graph: ExecutionGraph
            var cost: CostSummary
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Document(graph: graph, cost: cost))) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    func dot() -> String {
        var out = "digraph strata {\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
        var byLayer: [Int: [GraphNode]] = [:]
        for node in graph.nodes { byLayer[node.layer, default: []].append(node) }
        for layer in pipeline.layers {
            out += "  subgraph cluster_\(layer.index) {\n    label=\"\(layer.index + 1). \(layer.kind.rawValue) (pool \(layer.poolIn) → \(layer.poolOut))\";\n"
            for node in byLayer[layer.index] ?? [] where node.operation != .answer {
                let shape = node.operation.isCall ? "" : ", shape=ellipse, style=dashed"
                out += "    n\(node.id) [label=\"\(label(node))\"\(shape)];\n"
            }
            out += "  }\n"
        }
        out += "  n\(graph.answer) [label=\"answer\", shape=doublecircle];\n"
        for node in graph.nodes {
            for dependency in node.dependencies { out += "  n\(dependency) -> n\(node.id);\n" }
        }
        return out + "}\n"
    }

    func mermaid() -> String {
        var out = "flowchart TD\n"
        var byLayer: [Int: [GraphNode]] = [:]
        for node in graph.nodes { byLayer[node.layer, default: []].append(node) }
        for layer in pipeline.layers {
            out += "  subgraph L\(layer.index)[\"\(layer.index + 1). \(layer.kind.rawValue): pool \(layer.poolIn) → \(layer.poolOut)\"]\n"
            for node in byLayer[layer.index] ?? [] where node.operation != .answer {
                let text = label(node)
                out += node.operation.isCall ? "    n\(node.id)[\"\(text)\"]\n" : "    n\(node.id)([\"\(text)\"])\n"
            }
            out += "  end\n"
        }
        out += "  n\(graph.answer){{\"answer\"}}\n"
        for node in graph.nodes {
            for dependency in node.dependencies { out += "  n\(dependency) --> n\(node.id)\n" }
        }
        return out
    }

    func costTable() -> String {
        let header = ["layer", "kind", "pool", "calls", "input tok", "cacheable", "output tok", "USD", "latency s"]
        var rows: [[String]] = []
        for (line, layer) in zip(cost.layers, pipeline.layers) {
            rows.append([
                String(layer.index + 1), line.kind, "\(layer.poolIn) → \(layer.poolOut)", String(line.calls),
                String(line.inputTokens), String(line.cacheableTokens), String(line.outputTokens), formatUSD(line.usd),
                formatSeconds(line.latencySeconds),
            ])
        }
        let total = cost.total
        rows.append([
            "", "total", "", String(total.calls), String(total.inputTokens), String(total.cacheableTokens), String(total.outputTokens),
            formatUSD(total.usd), formatSeconds(total.latencySeconds),
        ])
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func format(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i < 3 ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        var out = "Worst-case cost of one query: \(graph.pipeline)\n\n"
        out += format(header) + "\n"
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for (i, row) in rows.enumerated() {
            if i == rows.count - 1 { out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
            out += format(row) + "\n"
        }
        var budgetParts: [String] = []
        let budget = pipeline.budget
        if let calls = budget.calls { budgetParts.append("\(calls) calls") }
        if let tokens = budget.inputTokens { budgetParts.append("\(tokens) input tokens") }
        if let tokens = budget.outputTokens { budgetParts.append("\(tokens) output tokens") }
        if let usd = budget.usd { budgetParts.append("\(formatUSD(usd)) USD") }
        if let seconds = budget.latencySeconds { budgetParts.append("\(formatSeconds(seconds)) s") }
        out +=
            "\nEstimates assume a query of \(budget.queryTokens) tokens; latency is the critical path, with waves where a model's max_in_flight is exceeded.\n"
        if total.cacheableTokens > 0 {
            out += "Cacheable: input an earlier call of the query already sent as the same opening, which a prompt cache serves"
            out += total.cacheSavingUSD > 0 ? " (saving \(formatUSD(total.cacheSavingUSD)) USD at the cached-input price)" : ""
            out += "; llama.cpp reuses any length, OpenAI and Anthropic from 1,024 tokens.\n"
        }
        if !budgetParts.isEmpty { out += "Budget per query: " + budgetParts.joined(separator: ", ") + ".\n" }
        for line in adaptiveLines() { out += line + "\n" }
        return out
    }

    /// A route's branches with their worst cases, and what one query spends at least and at most.
    static func routeLines(layer: Int, rule: RouteRule, branches: [RouteBranch]) -> [String] {
        func describe(_ cost: CostSummary.Line) -> String {
            "\(cost.calls) call\(cost.calls == 1 ? "" : "s"), \(cost.inputTokens) / \(cost.outputTokens) tokens, \(String(format: "$%.5f", cost.usd))"
        }
        var lines: [String] = []
        switch rule {
        case .cascade(let measure, let threshold):
            lines.append(
                "Layer \(layer + 1) (route) cascades through \(branches.map(\.name).joined(separator: " → ")): it answers from the first branch whose "
                    + "answer's \(measure.rawValue) reaches \(threshold), the last one always.")
            var spent = 0
            for branch in branches {
                spent += branch.cost.total.calls
                lines.append(
                    "  branch \(branch.name): \(describe(branch.cost.total)); a query that stops here has sent at most \(spent) call\(spent == 1 ? "" : "s")")
            }
            if let first = branches.first {
                lines.append("  as few as \(first.cost.total.calls) call\(first.cost.total.calls == 1 ? "" : "s") per query, at worst \(spent) (every branch)")
            }
        case .match(let arms, let otherwise):
            lines.append(
                "Layer \(layer + 1) (route) runs one branch per query: "
                    + arms.map { "\($0.condition.description) → \($0.branch)" }.joined(separator: ", ") + ", else \(otherwise).")
            for branch in branches { lines.append("  branch \(branch.name): \(describe(branch.cost.total))") }
            let calls = branches.map(\.cost.total.calls)
            lines.append("  from \(calls.min() ?? 0) to \(calls.max() ?? 0) calls per query, by the branch chosen")
        case .classify(_, let table, let otherwise):
            lines.append(
                "Layer \(layer + 1) (route) spends one call rating the query, then runs one branch: "
                    + table.keys.sorted().map { "\($0) → \(table[$0]!)" }.joined(separator: ", ") + ", else \(otherwise).")
            for branch in branches { lines.append("  branch \(branch.name): \(describe(branch.cost.total))") }
            let calls = branches.map(\.cost.total.calls)
            lines.append("  from \(1 + (calls.min() ?? 0)) to \(1 + (calls.max() ?? 0)) calls per query, the rating included")
        }
        return lines
    }

    /// What can make a query spend less than the worst case above, and by how much at best.
    func adaptiveLines() -> [String] {
        var lines: [String] = []
        let layers = pipeline.layers
        for (position, layer) in layers.enumerated() {
            if let rule = layer.earlyStop, position > 0, layers[position - 1].kind == .ensemble {
                let samples = layers[position - 1].entries.reduce(0) { $0 + $1.samples }
                let fewest = rule.fewestDraws(samples: samples)
                let saved = samples - fewest
                let models = layers[position - 1].entries.map { pipeline.models[$0.model].maxInFlight }
                let inFlight = layer.wave ?? models.max() ?? 1
                lines.append(
                    "Layer \(layer.index + 1) (vote, early_stop: \(rule)) keeps \(inFlight) sample\(inFlight == 1 ? "" : "s") in flight and judges "
                        + "every prefix: as few as \(fewest) of \(samples) when they agree (\(saved) call\(saved == 1 ? "" : "s") fewer than the worst case, "
                        + "plus those already in flight when it stops).")
            }
            if let rule = layer.route, let branches = graph.routes[layer.index] {
                lines.append(contentsOf: Self.routeLines(layer: layer.index, rule: rule, branches: branches))
            }
            if let quorum = layer.quorum {
                lines.append(
                    "Layer \(layer.index + 1) (ensemble) goes on after the first \(quorum) of \(layer.entries.reduce(0) { $0 + $1.samples }) samples arrive; "
                        + "the rest are cancelled (sent calls still count).")
            }
        }
        for node in graph.nodes where node.completions > 1 {
            guard let model = node.model, let offset = layers.firstIndex(where: { $0.index == node.layer }) else { continue }
            let saved = node.inputTokens * (node.completions - 1)
            let usd = pipeline.models[model].usd(input: saved, output: 0)
            lines.append(
                "Layer \(node.layer + 1) (\(layers[offset].kind.rawValue)) asks \(graph.models[model].name) for \(node.completions) samples in one request (n): "
                    + "the prompt is sent and billed once, \(saved) input tokens (\(formatUSD(usd)) USD) fewer than \(node.completions) requests.")
        }
        if let seconds = pipeline.budget.latencySeconds {
            lines.append("At run time a query still running after \(formatSeconds(seconds)) s answers from its last complete layer.")
        }
        return lines
    }
}
