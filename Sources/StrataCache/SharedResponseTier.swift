import Foundation

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
    /// Seconds a shared lookup or store may take before the call goes on without it.
    public var deadline: Double
    /// Seconds the shared level is skipped after it failed.
    public var pauseAfterFailure: Double
    /// The clock the deadline and the pause are measured on.
    public var clock: any Clock<Duration>

    /// Limits, timed by `clock`.
    public init(deadline: Double = 2, pauseAfterFailure: Double = 30, clock: any Clock<Duration> = ContinuousClock()) {
        self.deadline = deadline
        self.pauseAfterFailure = pauseAfterFailure
        self.clock = clock
    }

    /// Equal when the limits are (the clock is not compared).
    public static func == (lhs: SharedTierLimits, rhs: SharedTierLimits) -> Bool {
        (lhs.deadline, lhs.pauseAfterFailure) == (rhs.deadline, rhs.pauseAfterFailure)
    }

    /// Hashes the limits (not the clock).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(deadline)
        hasher.combine(pauseAfterFailure)
    }
}
