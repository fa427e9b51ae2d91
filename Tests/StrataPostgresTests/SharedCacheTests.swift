import Foundation
import Strata
import StrataPostgres
import StrataTestServer
import StrataTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A loopback port that takes connections and never answers: a hung database server.
final class SilentListener {
    let socketDescriptor: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(descriptor, address, length) == 0 && listen(descriptor, 64) == 0 && getsockname(descriptor, address, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw TestFailure("could not listen on a loopback port")
        }
        socketDescriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(socketDescriptor) }
}

/// The response cache's level shared between machines, in PostgreSQL.
@Suite(.enabled(if: TestPostgres.isUp, "no STRATA_TEST_POSTGRES_URL: scripts/test starts a throwaway PostgreSQL"))
struct SharedCacheTests {
    static let reply = ChatResponse(texts: ["The answer is #### 7"], usage: Usage(inputTokens: 12, outputTokens: 6))

    @Test func aReplyOneMachinePaidForIsAHitOnAnother() async throws {
        let url = try await TestPostgres.freshDatabase()
        let first = try await TestPostgres.open(url), second = try await TestPostgres.open(url)
        defer {
            first.close()
            second.close()
        }
        let a = try ResponseCache(path: temporaryPath("a.sqlite"), shared: PostgresResponseTier(database: first))
        let b = try ResponseCache(path: temporaryPath("b.sqlite"), shared: PostgresResponseTier(database: second))
        let key = ResponseCache.key(endpoint: "openai-compatible http://m", request: ChatRequest(model: "m", messages: [.user("q")]), sample: 0)
        await a.store(Self.reply, for: key)
        #expect(await b.lookup(key) == Self.reply)
        #expect(b.sharedHits == 1)
        // Copied into the second machine's file: the next lookup does not leave the machine.
        #expect(b.count() == 1)
        #expect(await b.lookup(key) == Self.reply)
        #expect(b.sharedHits == 1)
        // The first reply stored for a key stays.
        let other = ChatResponse(texts: ["The answer is #### 8"], usage: Usage(inputTokens: 12, outputTokens: 6))
        await b.store(other, for: key)
        let c = try ResponseCache(path: temporaryPath("c.sqlite"), shared: PostgresResponseTier(database: first))
        #expect(await c.lookup(key) == Self.reply)
        #expect(await c.lookup("no such key") == nil)
        #expect(c.problemCounts().isEmpty)
    }

    @Test(arguments: ["hung", "refusing"])
    func aSharedLevelThatIsHungOrDownIsAMissNeverAFailure(_ kind: String) async throws {
        let listener = try SilentListener()
        var port = listener.port
        if kind == "refusing" {
            // A port that was free a moment ago, and nothing listens on.
            let closed = try SilentListener()
            port = closed.port
        }
        let tier = PostgresResponseTier(location: try PostgresLocation(url: "postgres://strata@127.0.0.1:\(port)/strata?sslmode=disable"))
        defer { tier.close() }
        let problems = Mutex<[CacheProblem]>([])
        let clock = ManualClock()
        let cache = try ResponseCache(
            path: temporaryPath("cache.sqlite"), shared: tier, sharedLimits: SharedTierLimits(deadline: 0.5, pauseAfterFailure: 60, clock: clock),
            report: { problem in problems.withLock { $0.append(problem) } })
        // Without the deadline the lookup waits for good, since the pool keeps waiting for a connection;
        // with it, the lookup is a miss once the clock has moved 0.5 s.
        let lookup = Task { await cache.lookup("k") }
        let answered = LockedFlag(false)
        let watcher = Task {
            _ = await lookup.value
            answered.value = true
        }
        // Hung or refusing, the pool waits: only the deadline ends the lookup.
        #expect(await clock.waitForSleepers(1))
        #expect(!answered.value, "the lookup ended before its deadline")
        clock.advance(seconds: 0.5)
        #expect(await eventually(within: 30) { answered.value })
        #expect(await lookup.value == nil)
        _ = await watcher.value
        // Left alone for a while: the next calls do not try it (each would have failed and been counted).
        await cache.store(Self.reply, for: "k")
        #expect(await cache.lookup("k") == Self.reply)
        #expect(await cache.lookup("other") == nil)
        let said = problems.withLock { $0 }.filter { $0.kind == .sharedUnavailable }
        #expect(said.count == 1)
        #expect(said.first?.description.contains("postgres://strata@127.0.0.1:\(port)/strata") == true)
        #expect(cache.problemCounts()[.sharedUnavailable] == 1)
    }

    /// `strata eval` of two pipelines that share generator samples, by two
    /// workers in directories of their own (as on two machines): with the
    /// shared level the second pays only for the samples the first did not
    /// ask for; without it, for every one (the trade of a per-machine cache).
    @Test func workersOnTwoMachinesPayOnceForTheSamplesTheyShare() async throws {
        let server = try ScriptedLLMServer { _, _ in .delayed(0.01, .text("The answer is #### 7")) }
        let directory = try temporaryDirectory()
        func pipeline(samples: Int) throws -> String {
            let file = directory.appendingPathComponent("p\(samples).yaml")
            try """
            strata: 1
            models:
              m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)" }
            layers:
              - ensemble: [{ model: m, samples: \(samples), max_tokens: 16 }]
              - vote: { extractor: numeric }
            """.write(to: file, atomically: true, encoding: .utf8)
            return file.path
        }
        let two = try pipeline(samples: 2), three = try pipeline(samples: 3)
        let dataset = packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path
        func eval(_ pipeline: String, url: String, worker: String, extra: [String] = []) async throws {
            let home = directory.appendingPathComponent(worker)
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            let outcome = try await StrataBinary.run(
                ["eval", pipeline, "--dataset", dataset, "--limit", "10", "--store", url, "--worker-id", worker, "--poll", "0.1"] + extra, in: home)
            #expect(outcome.status == 0, "\(outcome.stderr)")
        }
        let shared = try await TestPostgres.freshDatabase()
        try await eval(two, url: shared, worker: "A")
        #expect(server.requestCount == 20)
        try await eval(three, url: shared, worker: "B")
        #expect(server.requestCount == 30, "the second machine sent the samples the first had paid for")
        #expect(try WorkerProcessTests.psql(shared, "SELECT count(*) FROM strata_responses") == ["30"])

        let apart = try await TestPostgres.freshDatabase()
        try await eval(two, url: apart, worker: "C", extra: ["--shared-cache", "off"])
        try await eval(three, url: apart, worker: "D", extra: ["--shared-cache", "off"])
        #expect(server.requestCount == 30 + 20 + 30)
        #expect(try WorkerProcessTests.psql(apart, "SELECT count(*) FROM strata_responses") == ["0"])
    }
    /// The judge's calls go through the shared level too: a second machine scoring the same answers pays for
    /// no judgement the first paid for (they once went only to each machine's own file).
    @Test func aJudgesCallsAreSharedBetweenMachines() async throws {
        let server = try ScriptedLLMServer { request, _ in
            .text(request.promptText.contains("Reference") || request.promptText.contains("reference") ? "Score: 10" : "#### 7")
        }
        let directory = try temporaryDirectory()
        func pipeline(_ name: String, comment: String = "") throws -> String {
            let file = directory.appendingPathComponent("\(name).yaml")
            try """
            strata: 1
            # \(comment)
            models:
              m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)" }
            layers:
              - ensemble: [{ model: m, samples: 1, max_tokens: 16 }]
            """.write(to: file, atomically: true, encoding: .utf8)
            return file.path
        }
        // Two texts of the same pipeline: two runs in the store, the same calls.
        let first = try pipeline("first", comment: "one"), second = try pipeline("second", comment: "two")
        let judge = try pipeline("judge")
        let dataset = packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path
        let url = try await TestPostgres.freshDatabase()
        var sentByFirst = 0
        for (index, evaluated) in [first, second].enumerated() {
            let home = directory.appendingPathComponent("machine\(index)")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            let outcome = try await StrataBinary.run(
                ["eval", evaluated, "--dataset", dataset, "--limit", "4", "--scorer", "judge", "--judge", judge, "--store", url, "--poll", "0.1"],
                in: home)
            #expect(outcome.status == 0, "\(outcome.stderr)")
            if index == 0 { sentByFirst = server.requestCount }
        }
        #expect(sentByFirst == 8, "four answers and four judgements")
        #expect(server.requestCount == sentByFirst, "the second machine paid again for answers or judgements the first had paid for")
    }
}
