import Foundation
import Strata
import Synchronization

/// Items done of a total, the rate, an ETA, dollars and failures — and the
/// running score when items are scored — on one progress line: what `run`
/// shows of a batch and `eval` of each pipeline.
final class ProgressReporter: Sendable {
    private struct Counts {
        var label: String?
        var done = 0
        /// Done before this process started (a resumed batch): not counted in the rate.
        var doneBefore = 0
        var failed = 0
        var scored = 0
        var scoreSum = 0.0
        var usd = 0.0
        var started = Date()
    }

    private let counts: Mutex<Counts>
    private let line = ProgressLine()
    private let total: Int

    init(total: Int, alreadyDone: Int = 0) {
        self.total = total
        counts = Mutex(Counts(done: alreadyDone, doneBefore: alreadyDone))
    }

    /// A new pipeline's items begin (eval): the counts start over under `label`.
    func start(_ label: String) {
        counts.withLock { $0 = Counts(label: label) }
        line.reset()
    }

    /// A batch item finished.
    @Sendable func finished(_ result: RunResult) { add(usd: result.usage.usd, failed: result.answer == nil, score: nil) }

    /// An evaluated item finished.
    @Sendable func finished(_ result: ItemResult) { add(usd: result.usage.usd, failed: false, score: result.score) }

    private func add(usd: Double, failed: Bool, score: Double?) {
        let counts = counts.withLock { counts in
            counts.done += 1
            counts.usd += usd
            if failed { counts.failed += 1 }
            if let score {
                counts.scored += 1
                counts.scoreSum += score
            }
            return counts
        }
        let total = total
        line.show(final: counts.done == total) {
            let rate = Double(counts.done - counts.doneBefore) / max(0.001, Date().timeIntervalSince(counts.started))
            let eta = rate > 0 ? Double(total - counts.done) / rate : 0
            let width = 24
            let filled = total > 0 ? min(width, width * counts.done / total) : width
            var text = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
            if let label = counts.label { text += "\(label): " }
            text += String(format: "%d/%d  %.2f items/s  ETA %.0fs", counts.done, total, rate, eta)
            if counts.scored > 0 { text += String(format: "  running score %.3f", counts.scoreSum / Double(counts.scored)) }
            text += String(format: "  $%.4f", counts.usd)
            if counts.failed > 0 { text += "  \(counts.failed) failed" }
            return text
        }
    }

    func close() { line.close() }
}
