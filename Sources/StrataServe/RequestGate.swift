import Foundation
import StrataProviders
import Synchronization

/// Admits requests to run: at most `maxConcurrent` at once, up to `maxQueue`
/// more waiting in arrival order, each for at most `queueTimeout` seconds.
/// A request turned away is answered 429 before it costs anything — it is
/// never counted against a model's limits, which the shared scheduler keeps.
final class RequestGate: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        var running = 0
        var waiting: [Waiter] = []
        var nextID: UInt64 = 0
        var draining = false
    }
    private let state = Mutex(State())
    let maxConcurrent: Int
    let maxQueue: Int
    let queueTimeout: Double
    let clock: any Clock<Duration>

    init(maxConcurrent: Int, maxQueue: Int, queueTimeout: Double, clock: any Clock<Duration> = ContinuousClock()) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxQueue = max(0, maxQueue)
        self.queueTimeout = queueTimeout
        self.clock = clock
    }

    enum Refusal: Error { case busy, draining }

    /// Requests running and waiting.
    var load: (running: Int, waiting: Int) { state.withLock { ($0.running, $0.waiting.count) } }

    /// Waits for a slot; throws `Refusal` when there is none to wait for, or the wait ran out.
    func enter() async throws {
        // The common case: a free slot and nobody waiting, so no waiter and no timer.
        let id: UInt64? = state.withLock { state in
            if !state.draining, state.running < maxConcurrent, state.waiting.isEmpty {
                state.running += 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        let deadline = Deadline(seconds: queueTimeout, on: clock)
        let timeout = Task {
            try await deadline.wait()
            self.remove(id, throwing: Refusal.busy)
        }
        defer { timeout.cancel() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Decided and queued under one lock, so a slot freed meanwhile is never missed.
                let outcome: Result<Void, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.draining { return .failure(Refusal.draining) }
                    if state.running < maxConcurrent, state.waiting.isEmpty {
                        state.running += 1
                        return .success(())
                    }
                    if state.waiting.count >= maxQueue { return .failure(Refusal.busy) }
                    state.waiting.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            remove(id, throwing: CancellationError())
        }
    }

    private func remove(_ id: UInt64, throwing error: any Error) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiting.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiting.remove(at: index)
        }
        waiter?.continuation.resume(throwing: error)
    }

    /// A running request finished: its slot goes to the longest waiter.
    func leave() {
        let next = state.withLock { state -> Waiter? in
            if !state.waiting.isEmpty { return state.waiting.removeFirst() }
            state.running -= 1
            return nil
        }
        next?.continuation.resume()
    }

    /// From now on every new request is refused (`draining`); waiting ones too.
    func drain() {
        let waiters = state.withLock { state -> [Waiter] in
            state.draining = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for waiter in waiters { waiter.continuation.resume(throwing: Refusal.draining) }
    }

    /// Whether `drain()` was called.
    var isDraining: Bool { state.withLock { $0.draining } }
}
