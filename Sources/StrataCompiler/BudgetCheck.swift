import Foundation
import StrataChecker
import StrataDiagnostics

/// Rule 8: the worst case of a query must fit the declared budget. Reports by
/// how much it does not, and which layer costs the most of that resource.
package enum BudgetCheck {
    package static func check(_ cost: CostSummary, against pipeline: CheckedPipeline) -> [Diagnostic] {
        let budget = pipeline.budget
        var diagnostics: [Diagnostic] = []
        func check(_ key: String, limit: Double?, actual: Double, unit: String, format: (Double) -> String, perLayer: (CostSummary.Line) -> Double) {
            guard let limit, actual > limit, let range = budget.ranges[key] else { return }
            let over = actual - limit
            let percent = limit > 0 ? wholePercent(over / limit * 100) : "100"
            var notes: [DiagnosticNote] = []
            if let costliest = cost.layers.max(by: { perLayer($0) < perLayer($1) }), let index = costliest.layer {
                let share = actual > 0 ? wholePercent(perLayer(costliest) / actual * 100) : "0"
                notes.append(
                    DiagnosticNote(
                        "layer \(index + 1) (\(costliest.kind)) costs the most: \(format(perLayer(costliest))) \(unit), \(share)% of the total",
                        at: pipeline.layers[index].range))
            }
            notes.append(DiagnosticNote("the worst case counts every call at its upper bound; `strata compile --emit cost` shows each layer"))
            diagnostics.append(
                Diagnostic(
                    .budgetExceeded,
                    "the worst case of a query is \(format(actual)) \(unit), over the budget of \(format(limit)) by \(format(over)) (\(percent)%)",
                    at: range, notes: notes))
        }
        let integer: (Double) -> String = { $0.isFinite && abs($0) < 9e18 ? String(Int($0)) : String($0) }
        check("calls", limit: budget.calls.map(Double.init), actual: Double(cost.total.calls), unit: "calls", format: integer) { Double($0.calls) }
        check("input_tokens", limit: budget.inputTokens.map(Double.init), actual: Double(cost.total.inputTokens), unit: "input tokens", format: integer) {
            Double($0.inputTokens)
        }
        check("output_tokens", limit: budget.outputTokens.map(Double.init), actual: Double(cost.total.outputTokens), unit: "output tokens", format: integer) {
            Double($0.outputTokens)
        }
        check("usd", limit: budget.usd, actual: cost.total.usd, unit: "USD", format: { formatUSD($0) }) { $0.usd }
        check("latency_s", limit: budget.latencySeconds, actual: cost.total.latencySeconds, unit: "seconds", format: { formatSeconds($0) }) {
            $0.latencySeconds
        }
        return diagnostics
    }
}

func formatUSD(_ value: Double) -> String {
    if value == 0 { return "0" }
    if value < 0.01 { return String(format: "%.5f", value) }
    return String(format: "%.4f", value)
}

func formatSeconds(_ value: Double) -> String { String(format: "%.1f", value) }

/// A percentage as a whole number, without trapping on values an `Int` cannot hold.
func wholePercent(_ value: Double) -> String {
    guard value.isFinite else { return "∞" }
    return abs(value) < 1e15 ? String(Int(value.rounded())) : String(format: "%.3g", value)
}
