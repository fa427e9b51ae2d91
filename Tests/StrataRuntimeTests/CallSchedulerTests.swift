import Foundation
import StrataTestSupport
import Testing

@testable import StrataRuntime

@Suite struct CallSchedulerTests {
    /// A caller cancelled before it asks for a permit must never get one: the
    /// cancellation handler runs before the request reaches the scheduler's
    /// queue, and the request must still see it.
    @Test(.timeLimit(.minutes(1))) func aCallerCancelledBeforeItIsQueuedNeverRuns() async throws {
        let scheduler = CallScheduler(limits: [ModelLimits(maxInFlight: 1)])
        let holder = Gate()
        let first = Task { try await scheduler.withPermit(model: 0, tokens: 1) { await holder.wait() } }
        while scheduler.peakInFlight(model: 0) == 0 { await Task.yield() }
        let ran = Gate()
        let cancelled = Task {
            while !Task.isCancelled { await Task.yield() }
            try await scheduler.withPermit(model: 0, tokens: 1) { await ran.open() }
        }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        await holder.open()
        try await first.value
        // The permit the cancelled caller would have had goes to the next one.
        let next = try await scheduler.withPermit(model: 0, tokens: 1) { 42 }
        #expect(next == 42)
        #expect(await ran.isOpen == false)
    }

    @Test(.timeLimit(.minutes(1))) func aWaitingCallerThatIsCancelledLeavesTheQueue() async throws {
        let scheduler = CallScheduler(limits: [ModelLimits(maxInFlight: 1)])
        let holder = Gate()
        let first = Task { try await scheduler.withPermit(model: 0, tokens: 1) { await holder.wait() } }
        while scheduler.peakInFlight(model: 0) == 0 { await Task.yield() }
        let ran = Gate()
        let waiting = Task { try await scheduler.withPermit(model: 0, tokens: 1) { await ran.open() } }
        try await Task.sleep(nanoseconds: 50_000_000)
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        await holder.open()
        try await first.value
        #expect(await ran.isOpen == false)
    }
}

@Suite struct RateLimitClockTests {
    /// Two requests a minute: two calls go at once, the third when the bucket
    /// has refilled one request, 30 s later on the scheduler's clock.
    @Test(.timeLimit(.minutes(1))) func aRequestsPerMinuteLimitHoldsTheNextCallUntilTheBucketRefills() async throws {
        let clock = ManualClock()
        let scheduler = CallScheduler(limits: [ModelLimits(maxInFlight: 8, requestsPerMinute: 2)], clock: clock)
        try await scheduler.withPermit(model: 0, tokens: 1) {}
        try await scheduler.withPermit(model: 0, tokens: 1) {}
        let third = Gate()
        let waiting = Task { try await scheduler.withPermit(model: 0, tokens: 1) { await third.open() } }
        #expect(await clock.waitForSleepers(1), "the scheduler set no wake-up")
        clock.advance(seconds: 29)
        try await Task.sleep(for: .milliseconds(50))
        #expect(await third.isOpen == false, "the third call went before the bucket refilled")
        clock.advance(seconds: 1)
        try await waiting.value
        #expect(await third.isOpen)
    }
}

/// A one-shot signal for tests.
actor Gate {
    private(set) var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}
