import Foundation
import StrataProviders
import Synchronization

/// How one worker behaves among the processes sharing a study or an
/// evaluation run through a shared store.
package struct WorkerOptions: Sendable {
    /// Names the worker in leases and `--status`.
    package var id: String
    /// How long a lease lasts without a heartbeat: how soon a dead worker's work is taken over.
    package var leaseTTL: Double
    /// How often the lease is renewed (and the study's spend read).
    package var heartbeat: Double
    /// How long to wait when no work is ready (others are finishing theirs).
    package var poll: Double
    /// Items per unit of work when a trial or a run is split among workers; nil: a search trial is one unit.
    package var unitItems: Int?
    /// The clock the heartbeat, the lease as this process judges it, and the polls are measured on.
    package var clock: any Clock<Duration>

    package init(
        id: String = WorkerOptions.defaultID(), leaseTTL: Double = 60, heartbeat: Double = 10, poll: Double = 1, unitItems: Int? = nil,
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.clock = clock
        self.id = id
        self.leaseTTL = max(0.5, leaseTTL)
        self.heartbeat = max(0.05, min(heartbeat, leaseTTL / 3))
        self.poll = max(0.05, poll)
        self.unitItems = unitItems.map { max(1, $0) }
    }

    /// `host-pid-xxxx`: unique per process, readable in `--status`.
    package static func defaultID() -> String {
        let suffix = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        return "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(suffix)"
    }
}

extension WorkerOptions {
    /// Runs `work` while a heartbeat renews its lease every `heartbeat`
    /// seconds. When a renewal says the lease is gone, or the lease has run
    /// out by this process's own clock (it was paused, or the store was out
    /// of reach for longer than the lease), another worker may own the work
    /// now: `work` is cancelled and the result is nil.
    package func holdingLease<Value: Sendable>(
        renew: @escaping @Sendable () async throws -> Bool, _ work: @escaping @Sendable () async throws -> Value
    ) async -> Result<Value, any Error>? {
        let task = Task { try await work() }
        let lost = Mutex(false)
        let heartbeat = Task { [heartbeat, leaseTTL, clock] in
            var lease = Deadline(seconds: leaseTTL, on: clock)
            func lose() {
                lost.withLock { $0 = true }
                task.cancel()
            }
            while !Task.isCancelled {
                try? await clock.sleep(for: .seconds(heartbeat))
                if Task.isCancelled { return }
                if lease.hasPassed { return lose() }
                let renewing = Deadline(seconds: leaseTTL, on: clock)
                // The store out of reach: keep working until the lease runs out by the clock above.
                guard let kept = try? await renew() else { continue }
                if !kept { return lose() }
                lease = renewing
            }
        }
        // The work is a task of its own (the heartbeat cancels it); cancelling the caller cancels it too.
        let result = await withTaskCancellationHandler {
            await task.result
        } onCancel: {
            task.cancel()
        }
        heartbeat.cancel()
        return lost.withLock { $0 } ? nil : result
    }
}
