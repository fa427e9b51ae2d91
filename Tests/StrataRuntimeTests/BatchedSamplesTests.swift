import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

@testable import StrataRuntime

/// An entry's samples go in one request with `n` when its model declares the
/// capability: the prompt is sent and billed once, each sample is cached
/// under its own index, and the run's result is the unbatched run's.
@Suite struct BatchedSamplesTests {
    static let layers = """
          - ensemble:
              - { model: m, samples: 4 }
              - { model: m, samples: 1, prompt: "Work backwards." }
          - rank: { model: m, top_k: 2 }
          - fuse: [m]
        """

    static func samples(_ server: ScriptedLLMServer) -> [ReceivedRequest] {
        server.requests.filter { !$0.promptText.contains("[1]") }
    }

    @Test func anEntrysSamplesGoInOneRequestAndGiveTheSameRun() async throws {
        let server = try ScriptedLLMServer()
        let unbatched = try runtime(try pipeline(Self.layers, server: server, capabilities: "{ json_schema: false, n: false }"))
        let plain = await unbatched.run(Query(prompt: "What is 6 × 7?"))
        try await unbatched.shutdown()
        let plainRequests = server.requests
        server.resetRecords()

        let batched = try runtime(try pipeline(Self.layers, server: server, capabilities: "{ json_schema: false, n: true }"))
        let result = await batched.run(Query(prompt: "What is 6 × 7?"))
        try await batched.shutdown()
        #expect(result.answer != nil, "\(result.failure ?? "")")
        // Samples 0–3 in one request with n = 4 and sample 4 (its own prompt) alone.
        #expect(Self.samples(server).map(\.n).sorted() == [1, 4])
        #expect(Self.samples(server).first { $0.n == 4 }?.seed == 100)
        #expect(server.requestCount == plainRequests.count - 3)
        // The scripted model answers a choice as it answers that sample alone, so nothing else changes.
        #expect(result.answer == plain.answer)
        #expect(result.layers.map(\.candidates) == plain.layers.map(\.candidates))
        #expect(result.layers[0].candidates.map(\.origin) == ["m#0", "m#1", "m#2", "m#3", "m#4"])
        // The prompt is counted once (10 tokens a request here), the outputs for every sample.
        #expect(result.usage.calls == plain.usage.calls - 3)
        #expect(result.usage.inputTokens == plain.usage.inputTokens - 30)
        #expect(result.usage.outputTokens == plain.usage.outputTokens)
    }

    @Test func eachSampleIsCachedUnderItsOwnIndex() async throws {
        let server = try ScriptedLLMServer()
        let cache = try ResponseCache(path: temporaryPath("cache.sqlite"))
        // Two samples asked one by one fill the cache for samples 0 and 1 ...
        let two = try runtime(
            try pipeline(
                "  - ensemble: [{ model: m, samples: 2 }]", server: server,
                capabilities: "{ json_schema: false, n: false }"), cache: cache)
        _ = await two.run(Query(prompt: "q"))
        try await two.shutdown()
        server.resetRecords()
        // ... so four samples with n ask only for the other two, in one request.
        let four = try runtime(
            try pipeline(
                "  - ensemble: [{ model: m, samples: 4 }]", server: server,
                capabilities: "{ json_schema: false, n: true }"), cache: cache)
        let result = await four.run(Query(prompt: "q"))
        try await four.shutdown()
        #expect(server.requests.map(\.n) == [2])
        #expect(server.requests.first?.seed == 102)
        #expect(result.usage.cacheHits == 2)
        #expect(result.layers[0].candidates.count == 4)
        server.resetRecords()
        // And every sample of that request was stored under its own index: asked one by one, all four are hits.
        let again = try runtime(
            try pipeline(
                "  - ensemble: [{ model: m, samples: 4 }]", server: server,
                capabilities: "{ json_schema: false, n: false }"), cache: cache)
        let replay = await again.run(Query(prompt: "q"))
        try await again.shutdown()
        #expect(server.requestCount == 0)
        #expect(replay.usage.cacheHits == 4)
        #expect(replay.layers[0].candidates == result.layers[0].candidates)
    }

    @Test func aServerThatIgnoresNIsAskedForTheRest() async throws {
        // One choice whatever n says, as some OpenAI-compatible servers do.
        let server = try ScriptedLLMServer { request, _ in .texts([ScriptedLLMServer.defaultAnswer(for: request)]) }
        let rt = try runtime(
            try pipeline(
                "  - ensemble: [{ model: m, samples: 3 }]", server: server,
                capabilities: "{ json_schema: false, n: true }"))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(server.requests.map(\.n) == [3, 2, 1])
        #expect(result.layers[0].candidates.count == 3)
        #expect(result.layers[0].notes.contains { $0.contains("asked for 3 completions (n), got 1 usable") }, "\(result.layers[0].notes)")
    }

    @Test func aFailedRequestDropsEverySampleItWasFor() async throws {
        let server = try ScriptedLLMServer { request, _ in
            request.seed == 101 ? .status(500) : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        // The server sees each choice's request without n; fail the whole batch by its second choice's seed.
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble:
                      - { model: m, samples: 2 }
                      - { model: m, samples: 1, prompt: "Alone." }
                """, server: server, capabilities: "{ json_schema: false, n: true }"))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.layers[0].candidates.map(\.origin) == ["m#2"])
        #expect(result.layers[0].notes.filter { $0.hasPrefix("dropped m#") }.count == 2, "\(result.layers[0].notes)")
        #expect(result.usage.failedCalls == 1)
    }

    @Test func theTraceAndTimelineShowOneRequestForItsSamples() async throws {
        let server = try ScriptedLLMServer()
        let tracePath = temporaryPath("trace.jsonl")
        let trace = try TraceWriter(path: tracePath)
        let rt = try PipelineRuntime(
            pipeline: try pipeline(
                "  - ensemble: [{ model: m, samples: 3 }]", server: server,
                capabilities: "{ json_schema: false, n: true }"),
            options: RuntimeOptions(trace: trace, retry: quickRetry, recordTimeline: true))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.timeline.count == 1)
        let lines = try String(contentsOfFile: tracePath, encoding: .utf8).split(separator: "\n")
        let calls = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["operation"] as? String == "generate" }
        #expect(calls.count == 1)
        #expect(calls.first?["n"] as? Int == 3)
        #expect(calls.first?["sample"] as? Int == 0)
    }
}
