import Foundation
import StrataSpace
import Synchronization

/// The search's spend against its limits, shared with evaluators so a trial
/// stops between items the moment a limit is reached.
public final class SpendMeter: Sendable {
    private let limits: SearchLimits
    private let start = Date()
    private let spentSoFar: Mutex<(calls: Int, usd: Double)>
    private let priorSeconds: Double
    /// Hears each item's spend as it finishes: a worker of a shared study publishes it at once.
    private let itemListener = Mutex<(@Sendable (Int, Double) -> Void)?>(nil)

    init(limits: SearchLimits, calls: Int, usd: Double, seconds: Double) {
        self.limits = limits
        spentSoFar = Mutex((calls, usd))
        self.priorSeconds = seconds
    }

    /// A meter with no limits and nothing spent, for evaluations outside a search.
    public static func unlimited() -> SpendMeter { SpendMeter(limits: SearchLimits(), calls: 0, usd: 0, seconds: 0) }

    /// An evaluator's item finished, having sent `calls` calls and spent `usd`.
    public func itemFinished(calls: Int, usd: Double) { itemListener.withLock { $0 }?(calls, usd) }

    func onItem(_ listener: (@Sendable (Int, Double) -> Void)?) { itemListener.withLock { $0 = listener } }

    /// Takes the spend of a study shared by workers, as its store totals it
    /// (this worker's finished trials included).
    func setSpent(calls: Int, usd: Double) {
        spentSoFar.withLock { $0 = (calls, usd) }
    }

    /// Calls sent, USD spent and seconds elapsed, including earlier runs of the same study.
    public var spent: (calls: Int, usd: Double, seconds: Double) {
        let (calls, usd) = spentSoFar.withLock { $0 }
        return (calls, usd, priorSeconds + Date().timeIntervalSince(start))
    }

    /// Why the search must stop, or nil while every limit holds. An evaluator
    /// passes what the trial in progress has spent so far.
    public func exhausted(addingCalls pendingCalls: Int = 0, usd pendingUSD: Double = 0) -> String? {
        var (calls, usd, seconds) = spent
        calls += pendingCalls
        usd += pendingUSD
        if let limit = limits.calls, calls >= limit { return "the call budget (\(limit) calls) is spent" }
        if let limit = limits.usd, usd >= limit { return String(format: "the USD budget ($%.4f) is spent", limit) }
        if let limit = limits.seconds, seconds >= limit { return "the time budget (\(Int(limit)) s) is used up" }
        return nil
    }
}
