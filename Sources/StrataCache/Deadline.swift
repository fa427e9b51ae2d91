import Foundation
import Synchronization

/// An operation that did not finish in time.
package struct DeadlineExceeded: Error, CustomStringConvertible {
    package var seconds: Double
    package var description: String { "no answer in \(String(format: "%g", seconds)) s" }
}

/// Runs `body` in a task of its own and waits for it at most `seconds`. A
/// hung server can hold a query past any cancellation, so the wait is not
/// left to the query: the late task is cancelled and abandoned. (Package
/// access: the response cache's shared level and the PostgreSQL stores bound their waits with it.)
package func withDeadline<Value: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> Value) async throws -> Value {
    let race = DeadlineRace<Value>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation, seconds: seconds, body)
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

    func start(_ continuation: CheckedContinuation<Value, any Error>, seconds: Double, _ body: @escaping @Sendable () async throws -> Value) {
        waiting.withLock { $0 = continuation }
        let clock = Task {
            guard (try? await Task.sleep(for: .seconds(seconds))) != nil else { return }
            finish(.failure(DeadlineExceeded(seconds: seconds)))
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
