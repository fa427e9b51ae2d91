import Foundation
import Strata
import StrataTestSupport
import Synchronization
import Testing

@testable import StrataSearch

/// Leases and heartbeats on a clock the tests move: what a lost or expired
/// lease does, decided in milliseconds whatever the machine's load.
@Suite struct LeaseClockTests {
    /// Work that runs until it is cancelled.
    static func forever() async throws -> Int {
        while true { try await Task.sleep(for: .seconds(3600)) }
    }

    @Test(.timeLimit(.minutes(1))) func aRenewalThatSaysTheLeaseIsGoneCancelsTheWork() async {
        let clock = ManualClock()
        let options = WorkerOptions(leaseTTL: 30, heartbeat: 10, clock: clock)
        let renewals = Mutex(0)
        let held = Task {
            await options.holdingLease {
                renewals.withLock { $0 += 1 }
                return renewals.withLock { $0 } < 3
            } _: {
                try await Self.forever()
            }
        }
        for _ in 0..<3 {
            #expect(await clock.waitForSleepers(1))
            clock.advance(seconds: 10)
        }
        #expect(await held.value == nil, "the work went on after the store said another worker has it")
        #expect(renewals.withLock { $0 } == 3)
    }

    @Test(.timeLimit(.minutes(1))) func aStoreOutOfReachKeepsTheLeaseUntilItRunsOutByThisClock() async {
        struct Unreachable: Error {}
        let clock = ManualClock()
        let options = WorkerOptions(leaseTTL: 30, heartbeat: 10, clock: clock)
        let renewals = Mutex(0)
        let held = Task {
            await options.holdingLease {
                renewals.withLock { $0 += 1 }
                throw Unreachable()
            } _: {
                try await Self.forever()
            }
        }
        // Renewals at 10 and 20 s fail but the lease, taken at 0, still holds; at 30 s it has run out.
        for _ in 0..<2 {
            #expect(await clock.waitForSleepers(1))
            clock.advance(seconds: 10)
        }
        #expect(await clock.waitForSleepers(1))
        #expect(renewals.withLock { $0 } == 2)
        clock.advance(seconds: 10)
        #expect(await held.value == nil)
        #expect(renewals.withLock { $0 } == 2, "no renewal is tried once the lease has run out")
    }

    @Test(.timeLimit(.minutes(1))) func workThatFinishesUnderItsLeaseGivesItsResult() async throws {
        let clock = ManualClock()
        let options = WorkerOptions(leaseTTL: 30, heartbeat: 10, clock: clock)
        let finish = LockedFlag(false)
        let held = Task {
            await options.holdingLease {
                true
            } _: {
                while !finish.value { try await Task.sleep(for: .milliseconds(1)) }
                return 42
            }
        }
        for _ in 0..<5 {
            #expect(await clock.waitForSleepers(1))
            clock.advance(seconds: 10)
        }
        finish.value = true
        #expect(try await held.value?.get() == 42, "renewed leases outlast the ttl")
    }

    @Test func anExpiredLocalLeaseIsTakenOverAndTheLateWorkerIsFenced() async throws {
        let clock = ManualClock()
        let queue = LocalStudyQueue(InMemoryStudyStore(), clock: clock)
        let study = StudyDescriptor(id: "fence", name: "fence", spacePath: "s.yaml", settings: "{}")
        try await queue.open(study)
        let trial = PendingTrial(configuration: Configuration(["samples": .int(1)]), phase: .dev, fidelity: 3, staticCalls: 1, staticUSD: 0)
        _ = try await queue.propose(study: "fence", worker: "a") { _ in [trial] }
        let first = try #require(try await queue.claim(study: "fence", worker: "a", ttl: 5))
        #expect(try await queue.claim(study: "fence", worker: "b", ttl: 5) == nil, "nobody else takes a live lease")
        clock.advance(seconds: 4)
        #expect(try await queue.renew(first, worker: "a", ttl: 5))
        clock.advance(seconds: 4)
        #expect(try await queue.claim(study: "fence", worker: "b", ttl: 5) == nil, "renewed at 4 s, the lease holds at 8 s")
        clock.advance(seconds: 2)
        let second = try #require(try await queue.claim(study: "fence", worker: "b", ttl: 5))
        #expect(second.attempts == 2)
        #expect(try await queue.renew(first, worker: "a", ttl: 5) == false)
        let record = TrialRecord(
            number: 0, configuration: trial.configuration, phase: .dev, fidelity: 3, status: .complete, outcome: TrialOutcome(score: 1, items: 3),
            error: nil, objective: 1, staticCalls: 1, staticUSD: 0)
        #expect(try await queue.complete(first, record: record, worker: "a", study: "fence") == nil, "the late worker's result is dropped")
        #expect(try await queue.complete(second, record: record, worker: "b", study: "fence") == 0)
        #expect(try await queue.trials(study: "fence").count == 1)
    }
}
