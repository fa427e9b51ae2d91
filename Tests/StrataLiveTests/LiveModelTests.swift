import Foundation
import Strata
import StrataTestSupport
import Testing

/// The real local model server, if one is up: the default model on 8080, else the tiny one on 8081.
enum LiveServer {
    static let port: Int? = [8080, 8081].first(where: isListening)

    static var isUp: Bool { port != nil }

    static func isListening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// A pipeline on the live model, with short outputs to keep the suite fast on two cores.
    static func pipeline(_ layers: String, maxTokens: Int = 48, logprobs: Bool = false) throws -> CheckedPipeline {
        let source = """
            strata: 1
            models:
              live: { provider: openai-compatible, model: local, base_url: "http://127.0.0.1:\(port ?? 8080)/v1", context_window: 4096,
                      capabilities: { json_schema: true, logprobs: \(logprobs) }, limits: { max_in_flight: 4 } }
            defaults: { max_tokens: \(maxTokens), temperature: 0.8, seed: 1 }
            layers:
            \(layers)
            """
        return try compiled(source, path: "live.yaml").pipeline
    }

    static func runtime(_ pipeline: CheckedPipeline, cache: ResponseCache = .disabled) throws -> PipelineRuntime {
        try PipelineRuntime(pipeline: pipeline, options: RuntimeOptions(cache: cache, timeouts: Timeouts(connect: 10, read: 300, total: 600)))
    }
}

@Suite(
    .enabled(if: LiveServer.isUp, "the local model server is down: start it with `scripts/local-llm start` (scripts/test does)"),
    .serialized)
struct LiveModelTests {
    @Test func quickstartPipelineEndToEnd() async throws {
        var compiled = try #require(PipelineCompiler().compile(path: packageRoot.appendingPathComponent("Pipelines/quickstart.yaml").path).compiled)
        if LiveServer.port == 8081 {
            // Only the tiny model is up: point the quickstart at it.
            compiled.pipeline.models[0].baseURL = "http://127.0.0.1:8081/v1"
        }
        let runtime = try LiveServer.runtime(compiled.pipeline)
        let result = await runtime.run(Query(prompt: "Name the capital of France in one word."))
        try await runtime.shutdown()
        #expect(result.failure == nil, "\(result.failure ?? "")")
        #expect(!(result.answer ?? "").isEmpty)
        #expect(result.layers.map(\.kind) == ["ensemble", "rank", "fuse"])
        #expect(result.usage.calls == 6)
        #expect(result.usage.outputTokens > 0)
    }

    @Test func everyLayerKindOnce() async throws {
        let runtime = try LiveServer.runtime(
            try LiveServer.pipeline(
                """
                  - write-tests: { model: live, tests: 2 }
                  - ensemble: [{ model: live, samples: 3 }]
                  - critique: { model: live, max_tokens: 160, on_malformed: pass-through }
                  - rank: { model: live, top_k: 2 }
                  - verify: { model: live, on_empty: keep-all, max_tokens: 48 }
                  - unit-test: { model: live, mode: judge, test_source: written, top_k: 2, on_empty: keep-all }
                  - fuse: [live]
                """))
        let result = await runtime.run(Query(prompt: "What is 6 times 7? Answer briefly."))
        try await runtime.shutdown()
        #expect(result.failure == nil, "\(result.failure ?? "")")
        #expect(result.layers.map(\.kind) == ["write-tests", "ensemble", "critique", "rank", "verify", "unit-test", "fuse"])
        #expect(result.layers[0].notes.contains("shown to every later layer"))
        #expect(result.answer != nil)
    }

    @Test func theRealModelsConfidenceWeighsVotesAndDrivesACascade() async throws {
        // A threshold of 1 is never reached (a path probability is below 1), so the cascade escalates.
        let runtime = try LiveServer.runtime(
            try LiveServer.pipeline(
                """
                  - route:
                      cascade: { threshold: 1, measure: confidence }
                      branches:
                        quick: [ { ensemble: [live] } ]
                        careful:
                          - ensemble: [{ model: live, samples: 3 }]
                          - vote: { weight: confidence, keep: 67% }
                """, logprobs: true))
        let result = await runtime.run(Query(prompt: "What is 6 times 7? Answer with a number."))
        try await runtime.shutdown()
        #expect(result.failure == nil, "\(result.failure ?? "")")
        #expect(result.usage.calls == 4)
        #expect(result.layers[0].notes.contains { $0.hasPrefix("route: branch quick's confidence is") && $0.contains("→ escalating to careful") })
        #expect(result.layers[0].notes.contains { $0.contains("careful · layer 2 (vote): vote (numeric") })
        let answer = try #require(result.layers[0].candidates.first?.confidence, "the real server returned no logprobs")
        #expect(answer.pathProbability > 0 && answer.pathProbability <= 1)
        #expect(answer.lowestGroup != nil, "keep asks for the top alternatives")
        #expect(answer.tokens > 0)
    }

    @Test func unitTestExecuteRunsRealModelCode() async throws {
        let runtime = try LiveServer.runtime(
            try LiveServer.pipeline(
                """
                  - ensemble: [{ model: live, samples: 2 }]
                  - unit-test: { mode: execute, test_source: dataset, top_k: 1, on_empty: keep-all, timeout_s: 5 }
                """, maxTokens: 96))
        let result = await runtime.run(
            Query(
                prompt: "Write a Python function add(a, b) that returns a + b. Reply with only the code.",
                tests: "assert add(2, 3) == 5\nassert add(-1, 1) == 0"))
        try await runtime.shutdown()
        #expect(result.failure == nil, "\(result.failure ?? "")")
        #expect(result.layers[1].notes.contains { $0.contains("executed tests") })
    }

    @Test func streamingDeliversPieces() async throws {
        let runtime = try LiveServer.runtime(
            try LiveServer.pipeline(
                """
                  - ensemble: [{ model: live, samples: 1, max_tokens: 40 }]
                """))
        let pieces = LivePieces()
        let result = await runtime.run(Query(prompt: "Count from one to ten in words."), onDelta: { pieces.append($0) })
        try await runtime.shutdown()
        #expect(result.answer != nil)
        #expect(pieces.count > 1, "a streamed reply arrives in several pieces")
        #expect(pieces.joined == result.answer)
    }

    @Test func rankWithJSONSchemaOutput() async throws {
        let runtime = try LiveServer.runtime(
            try LiveServer.pipeline(
                """
                  - ensemble: [{ model: live, samples: 3 }]
                  - rank: { model: live, top_k: 1, structured: always, max_tokens: 32 }
                """))
        let result = await runtime.run(Query(prompt: "Give one word for a happy feeling."))
        try await runtime.shutdown()
        #expect(result.failure == nil)
        let notes = result.layers[1].notes.joined(separator: "\n")
        #expect(notes.contains("ranking: ["))
        #expect(!notes.contains("no ranking could be read"), "the server's JSON-schema output must parse")
    }

    @Test func samplesWithDistinctSeedsGiveDistinctCandidates() async throws {
        let runtime = try LiveServer.runtime(
            try LiveServer.pipeline(
                """
                  - ensemble: [{ model: live, samples: 4, temperature: 1.0 }]
                  - fuse: [live]
                """, maxTokens: 24))
        let result = await runtime.run(Query(prompt: "Invent a name for a cat."))
        try await runtime.shutdown()
        let texts = result.layers[0].candidates.map(\.text)
        #expect(texts.count == 4)
        #expect(Set(texts).count >= 2, "distinct seeds should give distinct samples: \(texts)")
    }

    @Test func rerunHitsTheCacheWithZeroNewCalls() async throws {
        let path = temporaryPath("strata-live.sqlite")
        let pipeline = try LiveServer.pipeline(
            """
              - ensemble: [{ model: live, samples: 2 }]
              - fuse: [live]
            """, maxTokens: 24)
        let first = try LiveServer.runtime(pipeline, cache: try ResponseCache(path: path))
        let cold = await first.run(Query(prompt: "Say hello."))
        try await first.shutdown()
        let second = try LiveServer.runtime(pipeline, cache: try ResponseCache(path: path))
        let warm = await second.run(Query(prompt: "Say hello."))
        try await second.shutdown()
        #expect(cold.usage.calls == 3)
        #expect(warm.usage.calls == 0)
        #expect(warm.usage.cacheHits == 3)
        #expect(warm.answer == cold.answer)
    }
}

final class LivePieces: @unchecked Sendable {
    private let lock = NSLock()
    private var pieces: [String] = []
    func append(_ piece: String) { lock.withLock { pieces.append(piece) } }
    var count: Int { lock.withLock { pieces.count } }
    var joined: String { lock.withLock { pieces.joined() } }
}
