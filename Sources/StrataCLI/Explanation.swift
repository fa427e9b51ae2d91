import Foundation
import Strata

/// The `--explain` report: what every layer did.
enum Explanation {
    static func render(_ result: RunResult) -> String {
        var out = ""
        for report in result.layers {
            out += "── layer \(report.index + 1): \(report.kind) — \(report.candidatesIn) in → \(report.candidates.count) out; \(usageLine(report.usage))\n"
            for note in report.notes { out += "   · \(note)\n" }
            for (index, candidate) in report.candidates.enumerated() {
                var header = "   [\(index + 1)] \(candidate.origin)"
                if let passed = candidate.testsPassed { header += ", \(passed) tests passed" }
                if let confidence = candidate.confidence {
                    header += String(format: ", confidence %.2f", confidence.pathProbability)
                    if let group = confidence.lowestGroup { header += String(format: " (lowest group %.2f)", group) }
                }
                out += header + "\n" + indent(candidate.text, by: "       ") + "\n"
                if let critique = candidate.critique { out += "       critique: " + critique.replacingOccurrences(of: "\n", with: " ") + "\n" }
            }
        }
        out += "── answer\n"
        out += result.answer ?? "(none: \(result.failure ?? "unknown"))"
        return out
    }

    static func indent(_ text: String, by prefix: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { prefix + $0 }.joined(separator: "\n")
    }

    static func usageLine(_ usage: RunUsage) -> String {
        var parts = ["\(usage.calls) call\(usage.calls == 1 ? "" : "s")"]
        if usage.cacheHits > 0 { parts.append("\(usage.cacheHits) cached") }
        if usage.failedCalls > 0 { parts.append("\(usage.failedCalls) failed") }
        if usage.retries > 0 { parts.append("\(usage.retries) retries") }
        parts.append("\(usage.inputTokens) in / \(usage.outputTokens) out tokens")
        if usage.promptCachedTokens > 0 { parts.append("\(usage.promptCachedTokens) of the input from the prompt cache") }
        parts.append(String(format: "$%.5f", usage.usd))
        parts.append(String(format: "%.1f s", usage.seconds))
        return parts.joined(separator: ", ")
    }
}
