import Foundation
import GRDB
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

@Suite struct ProviderAndCacheTests {
    @Test func cacheKeepsSamplesDistinctAndHitsCostNothing() async throws {
        let server = try ScriptedLLMServer()
        let cachePath = temporaryPath("cache.sqlite")
        let layers = """
              - ensemble: [{ model: m, samples: 4 }]
              - rank: { model: m, top_k: 2 }
              - fuse: [m]
            """
        let first = try runtime(try pipeline(layers, server: server), cache: try ResponseCache(path: cachePath))
        let cold = await first.run(Query(prompt: "cache me"))
        try await first.shutdown()
        #expect(server.requestCount == 6)
        #expect(try ResponseCache(path: cachePath).count() == 6)
        #expect(Set(cold.layers[0].candidates.map(\.text)).count == 4)

        let second = try runtime(try pipeline(layers, server: server), cache: try ResponseCache(path: cachePath))
        let warm = await second.run(Query(prompt: "cache me"))
        try await second.shutdown()
        #expect(server.requestCount == 6, "a rerun must make no new calls")
        #expect(warm.answer == cold.answer)
        #expect(warm.usage.cacheHits == 6)
        #expect(warm.usage.calls == 0)
        #expect(warm.usage.usd == 0)
    }

    @Test func cacheModes() async throws {
        let server = try ScriptedLLMServer()
        let path = temporaryPath("cache.sqlite")
        let layers = "  - ensemble: [{ model: m, samples: 1 }]\n"
        for mode in [CacheMode.read, .off] {
            let rt = try runtime(try pipeline(layers, server: server), cache: try ResponseCache(path: path, mode: mode))
            _ = await rt.run(Query(prompt: "q"))
            try await rt.shutdown()
        }
        #expect(try ResponseCache(path: path).count() == 0, "read and off never write")
        let writer = try runtime(try pipeline(layers, server: server), cache: try ResponseCache(path: path, mode: .write))
        _ = await writer.run(Query(prompt: "q"))
        _ = await writer.run(Query(prompt: "q"))
        try await writer.shutdown()
        #expect(server.requestCount == 4, "write mode never reads")
        let reader = try runtime(try pipeline(layers, server: server), cache: try ResponseCache(path: path, mode: .read))
        _ = await reader.run(Query(prompt: "q"))
        try await reader.shutdown()
        #expect(server.requestCount == 4)
    }

    @Test func cacheIsSafeUnderConcurrentWriters() async throws {
        let path = temporaryPath("cache.sqlite")
        let caches = try (0..<4).map { _ in try ResponseCache(path: path) }
        await withTaskGroup(of: Void.self) { group in
            for (index, cache) in caches.enumerated() {
                group.addTask {
                    for item in 0..<100 {
                        let request = ChatRequest(model: "m", messages: [.user("\(item)")])
                        await cache.store(
                            ChatResponse(texts: ["\(index)-\(item)"], usage: Usage()),
                            for: ResponseCache.key(endpoint: "e", request: request, sample: item))
                    }
                }
            }
        }
        #expect(caches[0].count() == 100)
    }

    @Test func cacheProblemsAreReportedNotSilent() async throws {
        let path = temporaryPath("cache.sqlite")
        let problems = ProblemList()
        let request = ChatRequest(model: "m", messages: [.user("hi")])
        let key = ResponseCache.key(endpoint: "e", request: request, sample: 0)

        // A file that is not a database is moved aside, and the run gets a fresh cache.
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        let cache = try ResponseCache(path: path, report: problems.add)
        #expect(problems.kinds == [.corruptFile])
        let aside = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
            .filter { $0.hasPrefix((path as NSString).lastPathComponent + ".corrupt-") }
        #expect(aside.count == 1)
        await cache.store(ChatResponse(texts: ["hello"], usage: Usage()), for: key)
        let stored = await cache.lookup(key)
        #expect(stored?.texts == ["hello"])

        // An entry that is not a stored reply is a miss, said once.
        let other = try ResponseCache(path: path, report: problems.add)
        let pool = try DatabaseQueue(path: path)
        try await pool.write { try $0.execute(sql: "UPDATE responses SET response = x'00ff'") }
        let unreadable = await other.lookup(key)
        #expect(unreadable == nil)
        #expect(problems.kinds == [.corruptFile, .unreadableEntry])

        // A lock held past the wait limit drops the store, and says so.
        let impatient = try ResponseCache(path: path, lockTimeout: 0.2, report: problems.add)
        // Another connection holds an exclusive lock on its own thread while the store waits.
        let locked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        Thread {
            try? pool.inDatabase { db in
                try db.execute(sql: "BEGIN EXCLUSIVE")
                locked.signal()
                release.wait()
                try db.execute(sql: "COMMIT")
            }
        }.start()
        locked.wait()
        await impatient.store(ChatResponse(texts: ["later"], usage: Usage()), for: key)
        release.signal()
        #expect(problems.kinds.last == .lockTimeout)
        #expect(impatient.problemCounts()[.lockTimeout] == 1)
        #expect(problems.messages.allSatisfy { $0.contains(path) })
    }

    @Test func cacheKeysNeverContainKeys() {
        let request = ChatRequest(model: "m", messages: [.user("hi")])
        let a = ResponseCache.key(endpoint: "openai https://api.openai.com/v1", request: request, sample: 0)
        let b = ResponseCache.key(endpoint: "openai https://api.openai.com/v1", request: request, sample: 1)
        #expect(a != b)
        #expect(a.count == 64)
    }

    @Test func streamingDeliversTokensInOrder() async throws {
        let server = try ScriptedLLMServer { request, _ in
            request.promptText.contains("Synthesize")
                ? .slowStream("The answer is forty-two.", chunks: 6, interval: 0.02)
                : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(try pipeline(FailureHandlingTests.twoSamplesAndFuse, server: server))
        let pieces = Pieces()
        let result = await rt.run(Query(prompt: "q"), onDelta: { pieces.append($0) })
        try await rt.shutdown()
        #expect(result.answer == "The answer is forty-two.")
        #expect(pieces.all.count >= 6)
        #expect(pieces.all.joined() == "The answer is forty-two.")
        #expect(server.requests.last?.stream == true)
        #expect(server.requests.first?.stream == false)
    }

    @Test func anthropicWireFormat() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 2 }]
                  - fuse: [m]
                """, server: server, provider: "anthropic", apiKeyEnv: "ANTHROPIC_TEST_KEY"),
            environment: ["ANTHROPIC_TEST_KEY": "sk-ant-test-0123456789"])
        let pieces = Pieces()
        let result = await rt.run(Query(messages: [.system("Be brief."), .user("hello")]), onDelta: { pieces.append($0) })
        try await rt.shutdown()
        #expect(result.failure == nil, "\(result.failure ?? "")")
        let first = try #require(server.requests.first)
        #expect(first.path == "/v1/messages")
        #expect(first.headers["x-api-key"] == "sk-ant-test-0123456789")
        #expect(first.headers["anthropic-version"] == "2023-06-01")
        #expect((first.body["system"] as? String)?.contains("Be brief.") == true)
        #expect((first.body["messages"] as? [[String: Any]])?.allSatisfy { $0["role"] as? String != "system" } == true)
        #expect(result.usage.inputTokens == 30)
        #expect(server.requests.last?.stream == true)
        #expect(pieces.all.joined() == result.answer)
    }

    @Test func oneRequestPerSampleOnServersWithoutN() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(try pipeline("  - ensemble: [{ model: m, samples: 5 }]\n  - fuse: [m]\n", server: server))
        _ = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        let generations = server.requests.prefix(5)
        #expect(generations.allSatisfy { $0.body["n"] == nil })
        #expect(Set(generations.compactMap(\.seed)).count == 5)
    }

    @Test func perModelConcurrencyLimitIsNeverExceeded() async throws {
        let server = try ScriptedLLMServer(latency: 0.02)
        let rt = try runtime(try pipeline("  - ensemble: [{ model: m, samples: 12 }]\n  - fuse: [m]\n", server: server, maxInFlight: 3))
        let results = await withTaskGroup(of: RunResult.self) { group in
            for item in 0..<5 { group.addTask { await rt.run(Query(prompt: "item \(item)")) } }
            var all: [RunResult] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results.allSatisfy { $0.answer != nil })
        #expect(server.maxInFlight == 3)
        #expect(rt.peakInFlight(model: "m") == 3)
        try await rt.shutdown()
    }

    @Test func customProvidersPlugIn() async throws {
        struct Upper: ChatProvider {
            func complete(_ request: ChatRequest, onDelta: (@Sendable (String) -> Void)?) async throws -> ProviderReply {
                ProviderReply(
                    response: ChatResponse(texts: [(request.messages.last?.content ?? "").uppercased()], usage: Usage(inputTokens: 1, outputTokens: 1)))
            }
        }
        let server = try ScriptedLLMServer()
        let rt = try runtime(try pipeline("  - ensemble: [{ model: m, samples: 1 }]\n", server: server), providers: ["m": Upper()])
        let result = await rt.run(Query(prompt: "shout"))
        try await rt.shutdown()
        #expect(result.answer == "SHOUT")
        #expect(server.requestCount == 0)
    }

    @Test func deterministicGivenSeedsAndCache() async throws {
        let server = try ScriptedLLMServer(latency: 0.001)
        let layers = """
              - ensemble: [{ model: m, samples: 6 }]
              - verify: { model: m, first_k: 3, on_empty: keep-all }
              - rank: { model: m, top_k: 2 }
              - fuse: [m]
            """
        var answers: [String] = []
        for _ in 0..<3 {
            let rt = try runtime(try pipeline(layers, server: server))
            answers.append(await rt.run(Query(prompt: "same")).answer ?? "")
            try await rt.shutdown()
        }
        #expect(Set(answers).count == 1)
    }
}

final class Pieces: @unchecked Sendable {
    private let lock = NSLock()
    private var pieces: [String] = []
    func append(_ piece: String) { lock.withLock { pieces.append(piece) } }
    var all: [String] { lock.withLock { pieces } }
}

final class ProblemList: @unchecked Sendable {
    private let lock = NSLock()
    private var problems: [CacheProblem] = []
    func add(_ problem: CacheProblem) { lock.withLock { problems.append(problem) } }
    /// The kinds reported, slow waits aside: on a loaded machine any access may be slow, and says so.
    var kinds: [CacheProblem.Kind] { lock.withLock { problems.map(\.kind).filter { $0 != .slowLock } } }
    var messages: [String] { lock.withLock { problems.map(\.message) } }
}
