import Foundation
import Synchronization

/// A second level of the response cache, shared between machines, behind
/// each machine's SQLite file: a reply one worker paid for is a hit for
/// every other. `PostgresResponseTier` (module `StrataPostgres`) implements it.
///
/// The cache never waits long on it: `ResponseCache` bounds every access,
/// and counts one that fails or is late as a miss (or an unshared reply).
public protocol SharedResponseTier: Sendable {
    /// Where it is, for messages; never with a password.
    var location: String { get }
    /// The stored reply under `key`, as `ResponseCache` encoded it.
    func lookup(_ key: String) async throws -> Data?
    /// Stores `response` under `key`; the first reply stored for a key stays.
    func store(_ response: Data, for key: String) async throws
}

/// How long `ResponseCache` waits on its shared level, and how long it leaves
/// it alone after a failure (so an outage costs one wait, not one per call).
public struct SharedTierLimits: Sendable, Hashable {
    public var deadline: Double
    public var pauseAfterFailure: Double

    public init(deadline: Double = 2, pauseAfterFailure: Double = 30) {
        self.deadline = deadline
        self.pauseAfterFailure = pauseAfterFailure
    }
}

/// An access that did not answer in time.
package struct SharedTierTimeout: Error, CustomStringConvertible {
    package var seconds: Double
    package var description: String { "no answer in \(String(format: "%g", seconds)) s" }
}

/// Runs `body` in a task of its own and waits for it at most `seconds`. A
/// hung server can hold a query past any cancellation, so the wait is not
/// left to the query: the late task is cancelled and abandoned. (Package
/// access: the PostgreSQL stores bound their waits with it too.)
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

/// The body and the clock of one `withDeadline`: whichever ends first resumes the waiter.
private final class DeadlineRace<Value: Sendable>: Sendable {
    private let waiting = Mutex<CheckedContinuation<Value, any Error>?>(nil)
    private let work = Mutex<Task<Void, Never>?>(nil)

    func start(_ continuation: CheckedContinuation<Value, any Error>, seconds: Double, _ body: @escaping @Sendable () async throws -> Value) {
        waiting.withLock { $0 = continuation }
        let task = Task {
            do { finish(.success(try await body())) } catch { finish(.failure(error)) }
        }
        work.withLock { $0 = task }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            finish(.failure(SharedTierTimeout(seconds: seconds)))
        }
    }

    /// Resumes the waiter once; the body, if still running, is cancelled.
    func finish(_ result: Result<Value, any Error>) {
        guard let waiter = waiting.withLock({ $0.take() }) else { return }
        work.withLock { $0 }?.cancel()
        waiter.resume(with: result)
    }
}
