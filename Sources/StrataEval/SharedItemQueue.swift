import Foundation

/// A range of a run's items, leased by one worker.
package struct ItemRange: Sendable, Hashable {
    /// The lease's id in the queue.
    package var unit: Int64
    /// Positions in the run's item list: `lo..<hi`.
    package var lo: Int
    package var hi: Int

    package init(unit: Int64, lo: Int, hi: Int) {
        self.unit = unit
        self.lo = lo
        self.hi = hi
    }

    /// `0..<count` in consecutive ranges of `size` items (the last may be shorter): the units of a split run or trial.
    package static func split(_ count: Int, by size: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: max(1, size)).map { $0..<min(count, $0 + max(1, size)) }
    }
}

/// The items of evaluation runs split among workers on many machines: each
/// range is leased with an expiry a heartbeat renews, and a range whose worker
/// died is taken over (its finished items are in the run store and are not
/// run again). `PostgresItemQueue` (module `StrataPostgres`) implements it.
package protocol SharedItemQueue: Sendable {
    /// Splits the run's `items` into ranges of `unitItems`, once however many workers ask.
    func enqueue(run: String, items: Int, unitItems: Int) async throws
    /// Leases a range not done and not leased by a live worker; nil when none is ready.
    func claim(run: String, worker: String, ttl: Double) async throws -> ItemRange?
    /// Extends a lease; false when it was lost to another worker.
    func renew(_ range: ItemRange, run: String, worker: String, ttl: Double) async throws -> Bool
    /// Marks a leased range done.
    func complete(_ range: ItemRange, run: String, worker: String) async throws
    /// Ranges still to do, leased or not (ranges abandoned by too many workers excluded).
    func remaining(run: String) async throws -> Int
}

extension Evaluator {
    /// Scores the run's items together with the other workers on `queue`:
    /// claims a range, scores it while a heartbeat keeps the lease (a lost
    /// lease cancels it), and repeats until every range is done. Ranges are
    /// the worker's `unitItems` (8 when not given). Returns all the run's
    /// results, every worker's.
    package func evaluateShared(
        _ items: [DatasetItem], run: String, queue: any SharedItemQueue, worker: WorkerOptions,
        onResult: (@Sendable (ItemResult) -> Void)? = nil
    ) async throws -> [ItemResult] {
        try await queue.enqueue(run: run, items: items.count, unitItems: worker.unitItems ?? 8)
        while true {
            try Task.checkCancellation()
            guard let range = try await queue.claim(run: run, worker: worker.id, ttl: worker.leaseTTL) else {
                if try await queue.remaining(run: run) == 0 { break }
                try await worker.clock.sleep(for: .seconds(worker.poll))
                continue
            }
            let slice = Array(items[min(range.lo, items.count)..<min(range.hi, items.count)])
            let held = await worker.holdingLease {
                try await queue.renew(range, run: run, worker: worker.id, ttl: worker.leaseTTL)
            } _: {
                try await evaluate(slice, run: run, onResult: onResult)
            }
            // A lost lease: another worker scores the range now, skipping what this one finished.
            guard let outcome = held else { continue }
            _ = try outcome.get()
            try await queue.complete(range, run: run, worker: worker.id)
        }
        let wanted = Set(items.map(\.id))
        return try await store.results(run: run).filter { wanted.contains($0.itemID) }
    }
}
