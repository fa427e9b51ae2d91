import Foundation
import Strata

/// The text `strata search` prints.
enum SearchText {
    static func number(_ value: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        return formatter.string(from: NSNumber(value: value)) ?? String(value)
    }

    static func cost(_ configured: ConfiguredPipeline) -> String {
        guard let total = configured.cost?.total else { return "" }
        return String(
            format: "%d call%@, $%.4f, %@ tokens in / %@ out, %.1f s per query", total.calls, total.calls == 1 ? "" : "s", total.usd,
            number(total.inputTokens), number(total.outputTokens), total.latencySeconds)
    }

    static func dryRun(plan: SearchPlan, settings: SearchSettings, devItems: Int, holdoutItems: Int, dataset: String?) -> String {
        var out = "\(plan.space.name): \(plan.space.axes.count) axes, \(number(plan.size)) configurations\n"
        for axis in plan.space.axes {
            out += "  \(axis.name): \(axis.values.map(\.description).joined(separator: ", "))"
            if let condition = axis.conditionText { out += "  (when \(condition))" }
            out += "\n"
        }
        let budget = [plan.space.budgetDescription, plan.budget.description.isEmpty ? "" : "overridden: \(plan.budget)"].filter { !$0.isEmpty }
        out += "\nfeasible: \(number(plan.feasible.count)) of \(number(plan.size)) pass the checker and the per-query budget"
        out += budget.isEmpty ? " (none declared)\n" : " (\(budget.joined(separator: "; ")))\n"
        for reason in plan.infeasibleReasons {
            out += "  \(number(reason.count)) infeasible: \(reason.code.rawValue) \(reason.message)\n"
        }
        if let cheapest = plan.cheapest { out += "cheapest:       \(cheapest.configuration.key)\n                \(cost(cheapest))\n" }
        if let expensive = plan.mostExpensive { out += "most expensive: \(expensive.configuration.key)\n                \(cost(expensive))\n" }
        let dev = max(devItems, 1)
        let worst = plan.projectedWorstCaseCalls(settings: settings, devItems: dev, holdoutItems: holdoutItems)
        let trials = min(settings.limits.trials ?? plan.feasible.count, plan.feasible.count)
        out += "\nsearch: \(settings.algorithm.rawValue), \(number(trials)) configurations at most, \(settings.fidelity), objective \(settings.objective)\n"
        out += "projected worst case: \(number(worst)) model calls"
        out += dataset == nil ? " per search-split item (no --dataset given)" : " on \(devItems) search items and \(holdoutItems) held-out items"
        out += settings.limits.calls == nil ? ", before the cache\n" : ", capped by --max-calls\n"
        return out
    }

    static func format(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "—" }

    /// A shared study at a glance: trials, spend, the best so far and every worker with what it holds.
    static func status(_ status: SharedStudyStatus) -> String {
        var lines = ["study \(status.study.id) (\(status.study.name), \(status.study.spacePath))"]
        lines.append(
            "trials: \(status.complete) complete, \(status.failed) failed, \(status.pending) pending (\(status.leased) leased by a live worker)")
        lines.append(String(format: "spent: %d calls, $%.4f", status.issuedCalls, status.usd) + (status.stopReason.map { "; stopped: \($0)" } ?? ""))
        if let best = status.best, let outcome = best.outcome {
            lines.append(
                String(format: "best so far: %@ (score %.3f on %d items, trial %d)", best.configuration.key, outcome.score, outcome.items, best.number))
        }
        let now = Date()
        lines.append("workers: \(status.workers.count)")
        for worker in status.workers {
            let seen = Int(now.timeIntervalSince(worker.lastSeenAt).rounded())
            lines.append("  \(worker.id) (\(worker.host), pid \(worker.pid)): last seen \(seen) s ago" + (worker.leased.map { ", on \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    static func result(_ summary: SearchSummary) -> String {
        var out = "\(summary.space) on \(summary.dataset): \(summary.algorithm), \(summary.fidelity), objective \(summary.objective)\n"
        out += "\(summary.configurationsTried) of \(summary.feasible) feasible configurations tried (\(summary.spaceSize) in the space); "
        out += "\(summary.trialsRun) trials run now, \(summary.trialsReused) found finished in the store\n"
        if let reason = summary.stopReason { out += "stopped early: \(reason); the best so far stands\n" }
        let saved = summary.requestedCalls > 0 ? 100 * Double(summary.requestedCalls - summary.issuedCalls) / Double(summary.requestedCalls) : 0
        out += String(
            format: "calls: %@ requested, %@ sent (%.0f%% reused from the cache); $%.4f; %.0f s\n\n",
            number(summary.requestedCalls), number(summary.issuedCalls), saved, summary.usd, summary.seconds)
        var rows = [["rank", "configuration", "items", "score", "objective", "calls/query", "held-out (95%)", "front"]]
        for row in summary.leaderboard.prefix(15) {
            let holdout =
                row.holdoutScore.map { String(format: "%.3f (%.3f–%.3f, %d items)", $0, row.holdoutLow ?? 0, row.holdoutHigh ?? 0, row.holdoutItems ?? 0) }
                ?? ""
            rows.append([
                String(row.rank), row.configuration, String(row.items), format(row.score), format(row.objective), String(row.staticCalls),
                holdout, row.paretoFront ? "*" : "",
            ])
        }
        var widths = rows[0].map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        for (index, row) in rows.enumerated() {
            out += row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ") + "\n"
            if index == 0 { out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
        }
        if summary.leaderboard.count > 15 { out += "… \(summary.leaderboard.count - 15) more\n" }
        if let best = summary.best {
            out += "\nbest: \(best.configuration)\n  search split \(format(best.score)) on \(best.items) items"
            if let holdout = best.holdoutScore {
                out += String(format: "; held out %.3f (%.3f–%.3f) on %d items", holdout, best.holdoutLow ?? 0, best.holdoutHigh ?? 0, best.holdoutItems ?? 0)
            }
            out += "; \(best.staticCalls) calls per query at most\n"
        }
        if let baseline = summary.baseline {
            out += String(
                format: "baseline %@: held out %.3f (%.3f–%.3f) on %d items\n", baseline.pipeline, baseline.holdoutScore, baseline.holdoutLow,
                baseline.holdoutHigh, baseline.holdoutItems)
        }
        if let comparison = summary.comparison {
            out += String(
                format: "best vs baseline on %d shared held-out items: only the best right on %d, only the baseline on %d; %@ p = %.4f\n",
                comparison.shared, comparison.onlyA, comparison.onlyB, comparison.test, comparison.pValue)
        }
        if let path = summary.bestPipelinePath { out += "\nbest pipeline written to \(path)\n" }
        return out
    }

    static func bestHeader(result: SearchResult, best: LeaderboardEntry, space: String, dataset: String) -> [String] {
        var lines = [
            "The best pipeline \(result.stopReason == nil ? "found" : "found so far") by `strata search \(space)`",
            "(study \(result.study.id), \(result.settings.algorithm.rawValue), objective \(result.settings.objective)) on \(dataset).",
            "",
            "Configuration: \(best.configuration.key)",
            String(format: "Search split: %.3f on %d items.", best.dev.outcome?.score ?? 0, best.dev.fidelity),
        ]
        if let holdout = best.holdout?.outcome { lines.append(String(format: "Held out: %.3f on %d items.", holdout.score, holdout.items)) }
        if let cost = best.configured.cost?.total {
            lines.append(String(format: "Worst case per query: %d calls, $%.4f, %.1f s estimated latency.", cost.calls, cost.usd, cost.latencySeconds))
        }
        if let reason = result.stopReason { lines.append("The search stopped early: \(reason).") }
        return lines
    }
}
