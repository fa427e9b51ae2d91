import Foundation
import Strata
import Synchronization

/// Trials done, best so far, spend against the limits and an ETA, on standard error.
final class SearchProgress: Sendable {
    /// The trials so far.
    private struct Counts {
        var done = 0
        var reused = 0
        var calls = 0
        var usd = 0.0
        var best: (Double, String)?
        var configurations: Set<String> = []
    }

    private let counts = Mutex(Counts())
    private let feasible: Int
    private let limits: SearchLimits
    private let start = Date()

    init(feasible: Int, limits: SearchLimits) {
        self.feasible = feasible
        self.limits = limits
    }

    func trial(_ trial: TrialRecord, reused wasReused: Bool) {
        let (feasible, limits, start) = (feasible, limits, start)
        counts.withLock { counts in
            counts.done += 1
            if wasReused { counts.reused += 1 }
            // Explored configurations: the baseline scored held out at the end is not one of them.
            if trial.phase == .dev { counts.configurations.insert(trial.configuration.key) }
            counts.calls += wasReused ? 0 : trial.outcome?.issuedCalls ?? 0
            counts.usd += wasReused ? 0 : trial.outcome?.usd ?? 0
            if trial.phase == .dev, let objective = trial.objective, objective > (counts.best?.0 ?? -.infinity) {
                counts.best = (objective, trial.configuration.key)
            }
            let planned = min(limits.trials ?? feasible, feasible)
            let elapsed = Date().timeIntervalSince(start)
            let fresh = max(1, counts.done - counts.reused)
            let eta = Double(max(0, planned - counts.configurations.count)) * elapsed / Double(fresh)
            var line = "trial \(trial.number) [\(trial.phase.rawValue) \(trial.fidelity) items] \(trial.configuration.key): "
            if let outcome = trial.outcome {
                line += String(format: "score %.3f", outcome.score)
            } else {
                line += "failed (\(trial.error ?? "unknown"))"
            }
            if wasReused { line += " (from the store)" }
            line += String(format: " | best %.3f | %d of %d configurations", counts.best?.0 ?? 0, counts.configurations.count, planned)
            line += " | calls \(counts.calls)" + (limits.calls.map { "/\($0)" } ?? "")
            if counts.usd > 0 || limits.usd != nil {
                line += String(format: " | $%.4f", counts.usd) + (limits.usd.map { String(format: "/$%.2f", $0) } ?? "")
            }
            if !wasReused { line += String(format: " | ETA %.0fs", eta) }
            // Written under the lock, so concurrent trials' lines come out whole and in the order counted.
            writeError(line)
        }
    }
}
