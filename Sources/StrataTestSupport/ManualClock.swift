import Foundation
import Synchronization

/// A clock that moves only when a test advances it: timers, leases,
/// deadlines and keep-alives are tested deterministically, in milliseconds,
/// whatever the load of the machine.
///
/// ```swift
/// let clock = ManualClock()
/// let timer = Task { try await clock.sleep(for: .seconds(30)) }
/// await clock.waitForSleepers(1)   // the code under test has started its timer
/// clock.advance(by: .seconds(30))  // and it fires, now
/// ```
package final class ManualClock: Clock, Sendable {
    package struct Instant: InstantProtocol, Sendable {
        /// Time since the clock was made.
        package var offset: Duration

        package func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        package func duration(to other: Instant) -> Duration { other.offset - offset }
        package static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        var id: UInt64
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [Sleeper] = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    package init() {}

    package var now: Instant { state.withLock { $0.now } }

    package var minimumResolution: Duration { .zero }

    package func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Decided and registered under one lock, so neither an advance nor a cancellation is missed.
                let outcome: Result<Void, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time on, waking every sleeper whose deadline has come, earliest first.
    package func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Moves time on by `seconds`.
    package func advance(seconds: Double) { advance(by: .seconds(seconds)) }

    /// How many sleeps are waiting for the clock.
    package var sleepers: Int { state.withLock { $0.sleepers.count } }

    /// Waits, in real time, until at least `count` sleeps wait for this clock:
    /// the code under test has reached its timers, and advancing now fires them.
    /// False if that took longer than `timeout` seconds.
    @discardableResult
    package func waitForSleepers(_ count: Int, timeout: Double = 60) async -> Bool {
        let start = ContinuousClock.now
        while sleepers < count {
            if ContinuousClock.now - start > .seconds(timeout) { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }
}
