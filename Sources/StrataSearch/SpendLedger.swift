import Foundation
import Synchronization

/// A worker's spend on a shared study, published as each item finishes, so
/// every worker's limits see it within an item rather than a trial. One
/// entry at a time, in order: the meter then holds the study's total less
/// what the trial in progress has published, and the evaluator adds that
/// trial's own spend, so nothing is counted twice.
final class SpendLedger: Sendable {
    private enum Entry {
        case item(calls: Int, usd: Double)
        /// The trial ended having spent this much in all: publish what its items did not.
        case settle(calls: Int, usd: Double, done: CheckedContinuation<StudySpend, any Error>)
        /// Read the study's totals (a heartbeat, or between trials).
        case refresh(done: CheckedContinuation<StudySpend, any Error>)
    }

    typealias StudySpend = (calls: Int, usd: Double, stopReason: String?)

    private let store: any SharedStudyStore
    private let study: String
    private let meter: SpendMeter
    private let entries: AsyncStream<Entry>.Continuation
    /// What the trial in progress has published so far.
    private let published = Mutex<(calls: Int, usd: Double)>((0, 0))

    init(store: any SharedStudyStore, study: String, meter: SpendMeter) {
        self.store = store
        self.study = study
        self.meter = meter
        let (stream, entries) = AsyncStream.makeStream(of: Entry.self)
        self.entries = entries
        // Ends when `close()` finishes the stream and the entries given before are handled.
        Task { [self] in
            for await entry in stream { await handle(entry) }
        }
    }

    /// An item of the trial in progress finished, having spent this (called by the evaluator, in any thread).
    func item(calls: Int, usd: Double) {
        guard calls > 0 || usd > 0 else { return }
        entries.yield(.item(calls: calls, usd: usd))
    }

    /// Ends the trial in progress, which spent `calls` and `usd` in all (0 for
    /// one cancelled or failed: its items have said what they spent), after
    /// every item it published; the study's totals.
    @discardableResult
    func settle(calls: Int = 0, usd: Double = 0) async throws -> StudySpend {
        try await send { .settle(calls: calls, usd: usd, done: $0) }
    }

    /// The study's totals, read without ending the trial (a heartbeat): the meter takes them.
    @discardableResult
    func refresh() async throws -> StudySpend {
        try await send { .refresh(done: $0) }
    }

    private func send(_ entry: (CheckedContinuation<StudySpend, any Error>) -> Entry) async throws -> StudySpend {
        try await withCheckedThrowingContinuation { done in
            if case .terminated = entries.yield(entry(done)) { done.resume(throwing: CancellationError()) }
        }
    }

    /// Stops taking entries once those already given are handled. The worker calls it when it is done.
    func close() { entries.finish() }

    private func handle(_ entry: Entry) async {
        switch entry {
        case .item(let calls, let usd):
            // A database outage longer than the store waits loses the item here; its trial's settlement publishes it.
            guard let totals = try? await store.addSpend(study: study, calls: calls, usd: usd) else { return }
            let own = published.withLock {
                $0.calls += calls
                $0.usd += usd
                return $0
            }
            meter.setSpent(calls: totals.calls - own.calls, usd: totals.usd - own.usd)
        case .settle(let calls, let usd, let done):
            let own = published.withLock { $0 }
            do {
                let totals = try await store.addSpend(study: study, calls: max(0, calls - own.calls), usd: max(0, usd - own.usd))
                published.withLock { $0 = (0, 0) }
                meter.setSpent(calls: totals.calls, usd: totals.usd)
                done.resume(returning: totals)
            } catch {
                done.resume(throwing: error)
            }
        case .refresh(let done):
            do {
                let totals = try await store.addSpend(study: study, calls: 0, usd: 0)
                let own = published.withLock { $0 }
                meter.setSpent(calls: totals.calls - own.calls, usd: totals.usd - own.usd)
                done.resume(returning: totals)
            } catch {
                done.resume(throwing: error)
            }
        }
    }
}
