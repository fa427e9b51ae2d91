import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

@Suite struct FailureHandlingTests {
    static let twoSamplesAndFuse = """
          - ensemble: [{ model: m, samples: 2 }]
          - fuse: [m]
        """

    @Test func rateLimitWithRetryAfterIsRetried() async throws {
        let server = try ScriptedLLMServer { request, index in
            index == 0 ? .status(429, message: "slow down", headers: ["Retry-After": "0.05"]) : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(try pipeline(Self.twoSamplesAndFuse, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.failure == nil)
        #expect(result.usage.retries == 1)
        #expect(server.requestCount == 4)
    }

    @Test func serverErrorsTruncatedBodiesAndMalformedJSONAreRetried() async throws {
        // Each sample meets two faults, whichever order the calls arrive in: four retries in all.
        let faults: [Int: [ScriptedReply]] = [100: [.status(500), .truncated], 101: [.malformedJSON, .status(503)]]
        let attempts = AttemptCounter()
        let server = try ScriptedLLMServer { request, _ in
            let seed = request.promptText.contains("Synthesize") ? nil : request.seed
            let attempt = seed.map { attempts.next(for: $0) } ?? 0
            if let seed, let replies = faults[seed], attempt < replies.count { return replies[attempt] }
            return .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(try pipeline(Self.twoSamplesAndFuse, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.failure == nil, "\(result.failure ?? "")")
        #expect(result.usage.retries == 4)
        #expect(server.requestCount == 7)
    }

    @Test func aFailedCallDropsOneCandidateAndIsRecorded() async throws {
        let server = try ScriptedLLMServer { request, _ in
            request.seed == 101 && !request.promptText.contains("Synthesize")
                ? .status(400, message: "bad request") : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let trace = temporaryPath("trace.jsonl")
        let writer = try TraceWriter(path: trace)
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - fuse: [m]
                """, server: server), trace: writer)
        let result = await rt.run(Query(prompt: "q"), id: "item-7")
        try await rt.shutdown()
        #expect(result.failure == nil)
        #expect(result.layers[0].candidates.map(\.origin) == ["m#0", "m#2"])
        #expect(result.layers[0].notes.contains { $0.contains("dropped m#1") && $0.contains("HTTP 400") })
        #expect(result.usage.failedCalls == 1)
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        let events = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(events.filter { $0["operation"] as? String == "generate" }.count == 3)
        #expect(events.contains { $0["error"] as? String == "HTTP 400: bad request" && $0["query"] as? String == "item-7" })
    }

    @Test func aQueryFailsWithAReasonOnlyWhenALayerHasNothingLeft() async throws {
        let server = try ScriptedLLMServer { _, _ in .status(500, message: "down") }
        let rt = try runtime(try pipeline(Self.twoSamplesAndFuse, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.answer == nil)
        #expect(result.failure == "layer 1 (ensemble): every call failed (m#0: HTTP 500: down)")
        // 2 samples × 3 attempts, then nothing more.
        #expect(server.requestCount == 6)
    }

    @Test func timeoutsEndHungCalls() async throws {
        let server = try ScriptedLLMServer { request, index in
            index == 0 ? .hang : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(try pipeline(Self.twoSamplesAndFuse, server: server), timeouts: Timeouts(connect: 1, read: 0.3, total: 0.5))
        let clock = ContinuousClock()
        let start = clock.now
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.failure == nil)
        #expect(result.usage.retries >= 1)
        // The read timeout is 60 s: finishing well before it shows the 0.5 s total timeout ended the hung call
        // (the margin is for a loaded 2-core machine, where this once took 21 s).
        #expect(clock.now - start < .seconds(45))
    }

    @Test func keysRotateOnRateLimitsAndNeverLeak() async throws {
        let first = "sk-first-0123456789abcdef", second = "sk-second-0123456789abcdef"
        let server = try ScriptedLLMServer { request, _ in
            request.headers["authorization"] == "Bearer \(first)"
                ? .status(429, message: "quota exceeded for key \(first)")
                : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let trace = temporaryPath("trace.jsonl")
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 1 }]
                """, server: server, apiKeyEnv: "[KEY_A, KEY_B]"), trace: try TraceWriter(path: trace),
            environment: ["KEY_A": first, "KEY_B": second])
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.failure == nil)
        #expect(server.requests.map { $0.headers["authorization"] ?? "" } == ["Bearer \(first)", "Bearer \(second)"])
        let traceText = try String(contentsOfFile: trace, encoding: .utf8)
        #expect(!traceText.contains(first) && !traceText.contains(second))
    }

    @Test func errorMessagesAreRedacted() async throws {
        let key = "sk-secret-0123456789abcdef"
        let server = try ScriptedLLMServer { _, _ in .status(401, message: "invalid key \(key)") }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 1 }]
                """, server: server, apiKeyEnv: "ONLY_KEY"), environment: ["ONLY_KEY": key])
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        let failure = try #require(result.failure)
        #expect(!failure.contains(key))
        #expect(failure.contains("[redacted]"))
    }

    @Test func hostedProvidersWithoutAKeyFailClearly() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 1 }]
                """, server: server, provider: "openai", apiKeyEnv: "STRATA_NO_SUCH_KEY"))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.failure?.contains("no API key in STRATA_NO_SUCH_KEY") == true)
        #expect(server.requestCount == 0)
    }

    @Test func cancellationStopsInFlightCalls() async throws {
        let server = try ScriptedLLMServer { _, _ in .hang }
        let rt = try runtime(try pipeline(Self.twoSamplesAndFuse, server: server), timeouts: Timeouts(connect: 1, read: 60, total: 60))
        let clock = ContinuousClock()
        let start = clock.now
        let task = Task { await rt.run(Query(prompt: "q")) }
        try await Task.sleep(nanoseconds: 200_000_000)
        task.cancel()
        let result = await task.value
        try await rt.shutdown()
        #expect(result.failure == "cancelled")
        // Far below the 60 s timeouts: cancellation, not a timeout, ended the calls.
        #expect(clock.now - start < .seconds(20))
    }

    @Test func aBatchSurvivesInjectedFaults() async throws {
        // Every seventh item is rejected for good (400); every other distinct
        // request fails once (503) before it succeeds.
        let seen = SeenRequests()
        let server = try ScriptedLLMServer { request, _ in
            if request.promptText.contains("poison") { return .status(400, message: "rejected") }
            return seen.firstTime(request.rawBody) ? .status(503) : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(try pipeline(Self.twoSamplesAndFuse, server: server, maxInFlight: 8))
        let results = await withTaskGroup(of: (Int, RunResult).self) { group in
            for item in 0..<100 {
                group.addTask { (item, await rt.run(Query(prompt: item % 7 == 0 ? "poison \(item)" : "item \(item)"))) }
            }
            var results: [Int: RunResult] = [:]
            for await (item, result) in group { results[item] = result }
            return results
        }
        try await rt.shutdown()
        #expect(results.count == 100)
        for (item, result) in results {
            if item % 7 == 0 {
                #expect(result.answer == nil && result.failure?.contains("HTTP 400") == true)
            } else {
                #expect(result.answer != nil, "item \(item): \(result.failure ?? "")")
            }
        }
        #expect(server.maxInFlight <= 8)
    }
}

final class SeenRequests: @unchecked Sendable {
    private let lock = NSLock()
    private var seen = Set<Data>()
    private var count = 0

    /// True the first time for every other distinct body.
    func firstTime(_ body: Data) -> Bool {
        lock.withLock {
            guard seen.insert(body).inserted else { return false }
            count += 1
            return count % 2 == 0
        }
    }
}

/// Attempts per key, counted as the server sees them.
final class AttemptCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [Int: Int] = [:]
    func next(for key: Int) -> Int {
        lock.withLock {
            defer { counts[key, default: 0] += 1 }; return counts[key, default: 0]
        }
    }
}
