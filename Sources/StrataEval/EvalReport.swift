import Foundation

/// The text report of one or two runs.
package enum EvalReport {
    package static func text(_ runs: [EvalSummary], comparison: PairedComparison?, dataset: String, scorer: String) -> String {
        var out = "\(dataset), scored by \(scorer)\n\n"
        let header = [
            "pipeline", "items", "score", "95% interval", "failed", "calls/item sent of asked", "tokens in/out per item", "USD/item", "p50 s", "p95 s",
        ]
        var rows: [[String]] = []
        for run in runs {
            rows.append([
                run.pipeline, String(run.items), String(format: "%.3f", run.mean),
                String(format: "%.3f–%.3f (%@)", run.intervalLow, run.intervalHigh, run.intervalMethod), String(run.failures),
                String(format: "%.1f of %.1f", run.callsPerItem, run.requestedCallsPerItem),
                String(format: "%.0f / %.0f", run.inputTokensPerItem, run.outputTokensPerItem),
                String(format: "%.5f", run.usdPerItem), String(format: "%.1f", run.latencyP50), String(format: "%.1f", run.latencyP95),
            ])
        }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        out += line(header) + "\n" + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in rows { out += line(row) + "\n" }
        for run in runs where run.promptCachedTokensPerItem > 0 {
            out += String(
                format: "%@: %.0f of its %.0f input tokens per item were read from the providers' prompt caches (%.0f%%)\n", run.pipeline,
                run.promptCachedTokensPerItem, run.inputTokensPerItem, 100 * run.promptCachedTokensPerItem / max(1, run.inputTokensPerItem))
        }
        for run in runs where !run.failureReasons.isEmpty {
            out += "\nfailures of \(run.pipeline):\n"
            for (reason, count) in run.failureReasons.sorted(by: { $0.value > $1.value }) { out += "  \(count) × \(reason)\n" }
        }
        if let comparison {
            out += String(
                format: "\npaired on %d shared items: %.3f vs %.3f; only the first right on %d, only the second on %d; %@ p = %.4f\n",
                comparison.shared, comparison.meanA, comparison.meanB, comparison.onlyA, comparison.onlyB, comparison.test, comparison.pValue)
        }
        return out
    }

    /// The coverage curve as a table: pass@k, the votes' accuracy, the verifiers' honesty and the recommended k.
    package static func coverage(_ curve: CoverageCurve, pipeline: String) -> String {
        var out = "\ncoverage of \(pipeline)'s samples (\(curve.items) items, no extra calls):\n"
        let weighted = curve.points.contains { $0.weightedAtK != nil }
        let verified = curve.points.contains { $0.verifiedAtK != nil }
        out += "  k   pass@k  majority@k" + (weighted ? "  weighted@k" : "")
        out += (verified ? "  verified@k  wrong-through@k  verified-precision@k" : "") + "\n"
        for point in curve.points {
            out += String(format: "  %-3d %.3f   %.3f", point.k, point.passAtK, point.majorityAtK)
            if let value = point.weightedAtK { out += String(format: "       %.3f", value) }
            if let value = point.verifiedAtK { out += String(format: "       %.3f", value) }
            if let value = point.wrongLetThroughAtK { out += String(format: "       %.3f", value) }
            if verified { out += point.verifiedPrecisionAtK.map { String(format: "            %.3f", $0) } ?? "            -" }
            out += "\n"
        }
        for verifier in curve.verifiers {
            out += "  layer \(verifier.layer) (\(verifier.kind)) let through \(verifier.passed) candidate(s), \(verifier.passedRight) right"
            if let precision = verifier.precision { out += String(format: "; precision %.3f", precision) }
            if let rate = verifier.falsePositiveRate { out += String(format: ", false-positive rate %.3f", rate) }
            out += "; stopped \(verifier.stopped), \(verifier.stoppedRight) of them right\n"
        }
        if let recommendation = curve.recommendation {
            out += String(
                format: "  recommended k = %d: majority@k %.3f, %+.3f per extra call; %.0f%% of 200 bootstrap resamples agree\n",
                recommendation.k, recommendation.accuracy, recommendation.gainPerExtraCall, 100 * recommendation.agreement)
        }
        return out
    }
}
