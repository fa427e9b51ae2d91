import Dispatch
import Foundation
import StrataProviders

/// Per-model limits on concurrent calls, requests per minute and tokens per minute.
public struct ModelLimits: Sendable, Hashable {
    /// Calls in flight at once.
    public var maxInFlight: Int
    /// Requests started per minute, at most.
    public var requestsPerMinute: Int?
    /// Tokens (estimated in and out) per minute, at most.
    public var tokensPerMinute: Int?

    /// Limits for one model.
    public init(maxInFlight: Int, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil) {
        self.maxInFlight = max(1, maxInFlight)
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
    }
}

/// Admits model calls within each model's limits. All its state lives on one
/// serial `DispatchQueue`; callers wait asynchronously for a permit, so every
/// ready call of every query is queued at once and the scheduler keeps each
/// model exactly at its limits and never above. Waiting callers are served in
/// arrival order per model; a cancelled caller leaves the queue at once.
public final class CallScheduler: @unchecked Sendable {
    // Sendable by hand: `models` is touched only on the serial `queue`, `nextTicket` only with `ticketLock` held.
    private let queue = DispatchQueue(label: "strata.scheduler")
    private var models: [ModelState]
    /// Slots registered by identity (`slot(for:limits:)`), so runtimes sharing this scheduler share a model's limits.
    private var identities: [String: Int] = [:]
    private var nextTicket: UInt64 = 0
    private let ticketLock = NSLock()
    /// The clock the token buckets refill on and the wake-ups sleep on.
    private let clock: any Clock<Duration>
    /// Seconds since the scheduler was made, on `clock`.
    private let elapsed: @Sendable () -> Double

    struct Waiter {
        var ticket: UInt64
        var tokens: Int
        var continuation: CheckedContinuation<Void, Error>
    }

    struct TokenBucket {
        var capacity: Double
        var available: Double
        /// Units refilled per second.
        var rate: Double
        var updated: Double

        mutating func refill(now: Double) {
            available = min(capacity, available + (now - updated) * rate)
            updated = now
        }

        /// Seconds until `amount` is available (0 when it is now).
        func wait(for amount: Double) -> Double {
            amount <= available ? 0 : (amount - available) / rate
        }
    }

    struct ModelState {
        var limits: ModelLimits
        var inFlight = 0
        var requests: TokenBucket?
        var tokens: TokenBucket?
        var waiters: [Waiter] = []
        var head = 0
        var wakeScheduled = false
        var peakInFlight = 0
    }

    /// A scheduler holding each model to its limits, timed by `clock`.
    public init(limits: [ModelLimits], clock: any Clock<Duration> = ContinuousClock()) {
        self.clock = clock
        let start = Deadline(seconds: 0, on: clock)
        elapsed = { start.elapsed.inSeconds }
        let now = elapsed()
        models = limits.map { ModelState(limits: $0, now: now) }
    }

    /// A scheduler that runtimes share (`RuntimeOptions.scheduler`): each model
    /// registers its slot by identity when a runtime is made.
    public convenience init() { self.init(limits: []) }

    /// The slot of the model called `identity` (its endpoint and model id), made
    /// on first use. Every runtime that registers the same identity gets the
    /// same slot, so the model's limits hold across all of them; where two
    /// pipelines declare different limits for one model, the stricter hold.
    public func slot(for identity: String, limits: ModelLimits) -> Int {
        queue.sync {
            guard let slot = identities[identity] else {
                let now = elapsed()
                models.append(ModelState(limits: limits, now: now))
                identities[identity] = models.count - 1
                return models.count - 1
            }
            models[slot].tighten(to: limits, now: elapsed())
            return slot
        }
    }

    /// Runs `work` once model `model` admits a call estimated at `tokens` tokens.
    public func withPermit<T: Sendable>(model: Int, tokens: Int, _ work: @Sendable () async throws -> T) async throws -> T {
        try await acquire(model: model, tokens: tokens)
        defer { release(model: model) }
        return try await work()
    }

    /// The most calls that were ever in flight at once for `model`.
    public func peakInFlight(model: Int) -> Int { queue.sync { models[model].peakInFlight } }

    func acquire(model: Int, tokens: Int) async throws {
        let ticket: UInt64 = ticketLock.withLock {
            nextTicket += 1
            return nextTicket
        }
        let admission = Admission()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                // The cancellation handler may run first (a caller cancelled before it got
                // here): both run on the queue, so the ticket it left behind is seen here.
                // (`Task.isCancelled` would always be false in this Dispatch closure.)
                queue.async { [self] in
                    if admission.cancelled {
                        continuation.resume(throwing: CancellationError())
                        return
                    }
                    admission.queued = true
                    models[model].waiters.append(Waiter(ticket: ticket, tokens: tokens, continuation: continuation))
                    admit(model)
                }
            }
        } onCancel: {
            queue.async { [self] in
                let head = models[model].head
                if let index = models[model].waiters[head...].firstIndex(where: { $0.ticket == ticket }) {
                    let waiter = models[model].waiters.remove(at: index)
                    waiter.continuation.resume(throwing: CancellationError())
                } else if !admission.queued {
                    admission.cancelled = true
                }
            }
        }
    }

    func release(model: Int) {
        queue.async { [self] in
            models[model].inFlight -= 1
            admit(model)
        }
    }

    /// Grants permits while the limits allow; on the queue. State is mutated in
    /// place (never copied out), so a queue of 100,000 waiters stays cheap.
    private func admit(_ model: Int) {
        guard let delay = models[model].grant(now: elapsed()), !models[model].wakeScheduled else { return }
        models[model].wakeScheduled = true
        Task { [self, clock] in
            try? await clock.sleep(for: .seconds(delay))
            queue.async { [self] in
                models[model].wakeScheduled = false
                admit(model)
            }
        }
    }
}

/// What one caller's request for a permit has come to: read and written on
/// the scheduler's serial queue only, which is why it may be shared unchecked.
private final class Admission: @unchecked Sendable {
    var queued = false
    var cancelled = false
}

extension CallScheduler.TokenBucket {
    init?(perMinute: Int?, now: Double) {
        guard let perMinute else { return nil }
        self.init(capacity: Double(perMinute), available: Double(perMinute), rate: Double(perMinute) / 60, updated: now)
    }
}

extension CallScheduler.ModelState {
    init(limits: ModelLimits, now: Double) {
        self.init(limits: limits)
        requests = CallScheduler.TokenBucket(perMinute: limits.requestsPerMinute, now: now)
        tokens = CallScheduler.TokenBucket(perMinute: limits.tokensPerMinute, now: now)
    }

    /// Lowers each limit to `other`'s where it is stricter.
    mutating func tighten(to other: ModelLimits, now: Double) {
        limits.maxInFlight = min(limits.maxInFlight, other.maxInFlight)
        func stricter(_ a: Int?, _ b: Int?) -> Int? { [a, b].compactMap { $0 }.min() }
        if let rpm = stricter(limits.requestsPerMinute, other.requestsPerMinute), rpm != limits.requestsPerMinute {
            limits.requestsPerMinute = rpm
            requests = CallScheduler.TokenBucket(perMinute: rpm, now: now)
        }
        if let tpm = stricter(limits.tokensPerMinute, other.tokensPerMinute), tpm != limits.tokensPerMinute {
            limits.tokensPerMinute = tpm
            tokens = CallScheduler.TokenBucket(perMinute: tpm, now: now)
        }
    }

    /// Resumes every waiter the limits admit now; returns the seconds until the
    /// next one can go when a rate limit (not concurrency) holds it back.
    mutating func grant(now: Double) -> Double? {
        requests?.refill(now: now)
        tokens?.refill(now: now)
        var blockedFor: Double?
        while head < waiters.count, inFlight < limits.maxInFlight {
            // A call bigger than the whole bucket may still go once the bucket is full.
            let tokenNeed = min(Double(waiters[head].tokens), tokens?.capacity ?? 0)
            let delay = max(requests?.wait(for: 1) ?? 0, tokens?.wait(for: tokenNeed) ?? 0)
            if delay > 0 {
                blockedFor = delay
                break
            }
            requests?.available -= 1
            tokens?.available -= tokenNeed
            inFlight += 1
            peakInFlight = max(peakInFlight, inFlight)
            let continuation = waiters[head].continuation
            head += 1
            continuation.resume()
        }
        // Drop the served prefix now and then, so the array does not grow forever.
        if head > 1024, head * 2 > waiters.count {
            waiters.removeFirst(head)
            head = 0
        }
        return blockedFor
    }
}
