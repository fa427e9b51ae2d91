import Foundation
import Strata
import Synchronization

/// done/total, ETA and running score on standard error.
final class EvalProgress: Sendable {
    /// The current pipeline's items so far.
    private struct Counts {
        var label = ""
        var done = 0
        var scoreSum = 0.0
        var usd = 0.0
        var started = Date()
    }

    private let counts = Mutex(Counts())
    private let line = ProgressLine()
    private let total: Int

    init(total: Int) {
        self.total = total
    }

    /// A new pipeline's items begin.
    func start(_ label: String) {
        counts.withLock { $0 = Counts(label: label) }
        line.reset()
    }

    @Sendable func finished(_ result: ItemResult) {
        let counts = counts.withLock { counts in
            counts.done += 1
            counts.scoreSum += result.score
            counts.usd += result.usage.usd
            return counts
        }
        let total = total
        line.show(final: counts.done == total) {
            let rate = Double(counts.done) / max(0.001, Date().timeIntervalSince(counts.started))
            return String(
                format: "%@: %d/%d new  %.2f items/s  ETA %.0fs  running score %.3f  $%.4f", counts.label, counts.done, total, rate,
                rate > 0 ? Double(total - counts.done) / rate : 0, counts.scoreSum / Double(counts.done), counts.usd)
        }
    }

    func close() { line.close() }
}
