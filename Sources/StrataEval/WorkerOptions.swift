import Foundation

/// How one worker behaves among the processes sharing a study or an
/// evaluation run through a shared store.
public struct WorkerOptions: Sendable {
    /// Names the worker in leases and `--status`.
    public var id: String
    /// How long a lease lasts without a heartbeat: how soon a dead worker's work is taken over.
    public var leaseTTL: Double
    /// How often the lease is renewed (and the study's spend read).
    public var heartbeat: Double
    /// How long to wait when no work is ready (others are finishing theirs).
    public var poll: Double

    public init(id: String = WorkerOptions.defaultID(), leaseTTL: Double = 60, heartbeat: Double = 10, poll: Double = 1) {
        self.id = id
        self.leaseTTL = max(0.5, leaseTTL)
        self.heartbeat = max(0.05, min(heartbeat, leaseTTL / 3))
        self.poll = max(0.05, poll)
    }

    /// `host-pid-xxxx`: unique per process, readable in `--status`.
    public static func defaultID() -> String {
        let suffix = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        return "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(suffix)"
    }
}
