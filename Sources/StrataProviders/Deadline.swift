import Foundation
import Synchronization

/// A time limit measured on a clock. Every wait of Strata — a query's
/// latency budget, serve's request and queue timeouts and keep-alives, a
/// worker's heartbeat, lease and poll, the sandbox's wall-clock limit, the
/// stores' bounded waits — sleeps on a clock given to it (`ContinuousClock`
/// unless a test gives a manual one), so a test advances time instead of
/// waiting for it.
package struct Deadline: Sendable {
    /// The clock the limit is measured on.
    package let clock: any Clock<Duration>
    /// The limit, from when the deadline was made.
    package let limit: Duration
    private let sinceStart: @Sendable () -> Duration

    /// A deadline `seconds` from now on `clock` (a negative limit has passed already).
    package init(seconds: Double, on clock: any Clock<Duration> = ContinuousClock()) {
        self.clock = clock
        limit = .seconds(seconds)
        sinceStart = Self.stopwatch(clock)
    }

    private static func stopwatch<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// Time since the deadline was made.
    package var elapsed: Duration { sinceStart() }

    /// Time left, never negative.
    package var remaining: Duration { max(.zero, limit - elapsed) }

    package var hasPassed: Bool { elapsed >= limit }

    /// Sleeps until the deadline; returns at once when it has passed. Throws `CancellationError` when cancelled.
    package func wait() async throws {
        let left = remaining
        if left > .zero { try await clock.sleep(for: left) }
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    package var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// An operation that did not finish in time.
package struct DeadlineExceeded: Error, CustomStringConvertible {
    package var seconds: Double
    package var description: String { "no answer in \(String(format: "%g", seconds)) s" }
}

/// Runs `body` in a task of its own and waits for it at most `seconds` on
/// `clock`. A hung server can hold a query past any cancellation, so the
/// wait is not left to the query: the late task is cancelled and abandoned.
/// (Package access: the response cache's shared level and the PostgreSQL
/// stores bound their waits with it.)
package func withDeadline<Value: Sendable>(
    _ seconds: Double, clock: any Clock<Duration> = ContinuousClock(), _ body: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    let race = DeadlineRace<Value>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation, deadline: Deadline(seconds: seconds, on: clock), body)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The body and the clock of one `withDeadline`: whichever ends first resumes
/// the waiter and cancels the other (so a finished operation leaves no clock asleep).
private final class DeadlineRace<Value: Sendable>: Sendable {
    private let waiting = Mutex<CheckedContinuation<Value, any Error>?>(nil)
    private let tasks = Mutex<[Task<Void, Never>]>([])

    func start(_ continuation: CheckedContinuation<Value, any Error>, deadline: Deadline, _ body: @escaping @Sendable () async throws -> Value) {
        waiting.withLock { $0 = continuation }
        let clock = Task {
            guard (try? await deadline.wait()) != nil else { return }
            finish(.failure(DeadlineExceeded(seconds: deadline.limit.inSeconds)))
        }
        tasks.withLock { $0.append(clock) }
        let work = Task {
            do { finish(.success(try await body())) } catch { finish(.failure(error)) }
        }
        tasks.withLock { $0.append(work) }
    }

    /// Resumes the waiter once; the body or the clock, whichever is still running, is cancelled.
    func finish(_ result: Result<Value, any Error>) {
        guard let waiter = waiting.withLock({ $0.take() }) else { return }
        for task in tasks.withLock({ $0 }) { task.cancel() }
        waiter.resume(with: result)
    }
}
