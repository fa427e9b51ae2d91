import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

/// Prompts laid out so calls share a prefix, providers told so, and what their caches saved counted and priced.
@Suite struct PromptCacheTests {
    /// Answers of about `bytes` bytes, distinct per seed, so that a pool's context is long enough to cache.
    static func longAnswers(_ bytes: Int) -> ScriptedLLMServer.Responder {
        { request, _ in
            let prompt = request.promptText
            if prompt.contains("Strengths:") || prompt.contains("Rank the") || prompt.contains("[Correct] or [Incorrect]") {
                return .text(ScriptedLLMServer.defaultAnswer(for: request))
            }
            let seed = request.seed ?? 0
            return .text("Answer \(seed): " + String(repeating: "step \(seed) follows. ", count: bytes / 16))
        }
    }

    @Test func callsReadingTheSamePoolShareTheirFirstMessageByteForByte() async throws {
        let server = try ScriptedLLMServer(responder: Self.longAnswers(200))
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - critique: { model: m }
                  - fuse: [m]
                """, server: server))
        let result = await rt.run(Query(prompt: "Explain tides."))
        try await rt.shutdown()
        #expect(result.failure == nil)
        let critique = try #require(server.requests.first { $0.promptText.contains("Strengths:") }?.messages)
        let fuse = try #require(server.requests.last?.messages)
        // The critique's context is the pool; the fuser reads it again, the critiques after it, then its task.
        #expect(critique.first?.role == "system" && critique.first?.content.hasPrefix("The request:\nExplain tides.") == true)
        #expect(fuse.first?.content.hasPrefix(critique[0].content + "\n\nCritiques of the responses:") == true)
        #expect(fuse[1].role == "system" && fuse[1].content.hasPrefix("You answer the user's request."))
        // The fuser still reads the user's request last.
        #expect(fuse.last?.role == "user" && fuse.last?.content == "Explain tides.")
    }

    /// A rank reorders its pool, best first, so what reads the ranked pool shares the context only up to the
    /// first candidate that moved: the price of keeping the best draft first.
    @Test func aRankSharesTheContextItReadsButReordersWhatFollows() async throws {
        let server = try ScriptedLLMServer(responder: Self.longAnswers(200))
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - critique: { model: m }
                  - rank: { model: m, top_k: 3 }
                  - fuse: [m]
                """, server: server))
        _ = await rt.run(Query(prompt: "Explain tides."))
        try await rt.shutdown()
        let critique = try #require(server.requests.first { $0.promptText.contains("Strengths:") }?.messages)
        let rank = try #require(server.requests.first { $0.promptText.contains("Rank the") }?.messages)
        let fuse = try #require(server.requests.last?.messages)
        #expect(rank.first?.content.hasPrefix(critique[0].content + "\n\nCritiques of the responses:") == true)
        #expect(fuse.first?.content.contains("[1] Answer 102:") == true, "the echo server ranks in reverse")
    }

    @Test func aVerdictSharesItsReasoningCallsContext() async throws {
        let server = try ScriptedLLMServer(responder: Self.longAnswers(100))
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 2 }]
                  - verify: { model: m, on_empty: keep-all }
                """, server: server))
        _ = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        // Told apart by what they read, not by position: a candidate's verify calls may start before the other sample is asked for.
        let verify = server.requests.map(\.messages).filter { $0.first?.content.contains("A response to it:") == true }
        #expect(server.requests.count == 6 && verify.count == 4)
        for candidate in ["Answer 100:", "Answer 101:"] {
            let calls = verify.filter { $0.first?.content.contains(candidate) == true }
            #expect(calls.count == 2, "a reasoning call and a verdict call about \(candidate)")
            #expect(Set(calls.map { $0.first?.content ?? "" }).count == 1)
            #expect(calls.allSatisfy { $0.first?.content.hasPrefix("The request:\nq\n\nA response to it:\n") == true })
        }
    }

    @Test func aPromptWithoutContextIsOneMessageAsWritten() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 2 }]
                  - rank: { model: m, top_k: 1, prompt: "Order {candidates} for {query}. Rank the best first." }
                """, server: server))
        _ = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        let rank = try #require(server.requests.last?.messages)
        #expect(rank.count == 1 && rank[0].role == "user" && rank[0].content.hasPrefix("Order [1] "))
    }

    /// Each provider is told in its own words; a model that does not declare the capability sends nothing,
    /// and the hint never changes where a reply is cached.
    @Test(arguments: ["openai-compatible", "openai", "anthropic"])
    func theProviderIsToldWhatIsShared(_ provider: String) async throws {
        let server = try ScriptedLLMServer()
        let layers = "  - ensemble: [{ model: m, samples: 2 }]\n  - critique: { model: m }\n"
        let key = provider == "openai-compatible" ? nil : "STRATA_TEST_KEY"
        let environment = ["STRATA_TEST_KEY": "sk-test-0123456789"]
        let cachePath = try temporaryPath("cache.sqlite")
        for hints in [true, false] {
            server.resetRecords()
            let checked = try pipeline(
                layers, server: server, provider: provider, capabilities: "{ n: false, json_schema: false, prefix_cache: \(hints) }", apiKeyEnv: key)
            let rt = try runtime(checked, cache: try ResponseCache(path: cachePath), environment: environment)
            _ = await rt.run(Query(prompt: "q"))
            try await rt.shutdown()
            // With the cache on, the run without hints is answered from what the run with hints stored.
            #expect(server.requestCount == (hints ? 3 : 0))
            guard hints else { continue }
            let sample = server.requests[0].body, critique = server.requests[2].body
            switch provider {
            case "openai":
                #expect((sample["prompt_cache_key"] as? String)?.count == 32)
                #expect(critique["prompt_cache_key"] as? String != sample["prompt_cache_key"] as? String)
                #expect(server.requests[1].body["prompt_cache_key"] as? String == sample["prompt_cache_key"] as? String, "both samples share")
            case "anthropic":
                let system = try #require(critique["system"] as? [[String: Any]])
                #expect(system.count == 1 && system[0]["cache_control"] as? [String: String] == ["type": "ephemeral"])
                #expect((critique["messages"] as? [[String: Any]])?.first?["content"] is String, "the task after the breakpoint is plain")
            default:
                #expect(sample["cache_prompt"] as? Bool == true && critique["cache_prompt"] as? Bool == true)
                #expect(sample["prompt_cache_key"] == nil)
            }
        }
    }

    @Test func withoutTheCapabilityNoHintIsSent() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(try pipeline("  - ensemble: [{ model: m, samples: 2 }]\n  - critique: { model: m }\n", server: server))
        _ = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(server.requests.allSatisfy { $0.body["cache_prompt"] == nil && $0.body["prompt_cache_key"] == nil })
    }

    /// Against a server that caches prefixes as OpenAI does, a fuse after a critique reads the drafts from the
    /// cache (the critique read them first), and the usage, the trace and the price say so.
    @Test func cachedInputIsCountedTracedAndPricedAtTheCachedRate() async throws {
        let server = try ScriptedLLMServer(responder: Self.longAnswers(1500))
        server.simulatePromptCache()
        let trace = try temporaryPath("trace.jsonl")
        let checked = try compiled(
            """
            strata: 1
            models:
              m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)", capabilities: { json_schema: false, prefix_cache: true },
                   price: { input: 2, output: 8, cached_input: 0.5 } }
            defaults: { max_tokens: 64, seed: 100, temperature: 0.7 }
            layers:
              - ensemble: [{ model: m, samples: 4 }]
              - critique: { model: m }
              - fuse: [m]
            """
        ).pipeline
        let rt = try runtime(checked, trace: try TraceWriter(path: trace))
        let result = await rt.run(Query(prompt: "Explain tides."))
        try await rt.shutdown()
        #expect(result.failure == nil)
        let critique = result.layers[1].usage, fuse = result.layers[2].usage
        #expect(critique.promptCachedTokens == 0, "the first to read the pool pays for it")
        #expect(fuse.promptCachedTokens * 10 >= fuse.inputTokens * 8, "\(fuse)")
        #expect(result.usage.promptCachedTokens == fuse.promptCachedTokens, "the samples' short prompts stay under 1,024 tokens")
        let uncached = Double(result.usage.inputTokens - result.usage.promptCachedTokens) * 2, cached = Double(result.usage.promptCachedTokens) * 0.5
        #expect(abs(result.usage.usd - (uncached + cached + Double(result.usage.outputTokens) * 8) / 1_000_000) < 1e-12)
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        let traced = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(traced.compactMap { $0["prompt_cached_tokens"] as? Int }.reduce(0, +) == result.usage.promptCachedTokens)
    }

    /// llama.cpp's server says what it reused in `timings.cache_n`; Anthropic's streams say it in `message_start`.
    @Test func cachedTokensAreReadWhereverTheServerReportsThem() async throws {
        let llama = try ScriptedLLMServer { _, _ in
            .raw(
                status: 200, contentType: "application/json",
                body: #"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"#
                    + #""usage":{"prompt_tokens":900,"completion_tokens":2},"timings":{"cache_n":640,"prompt_n":260}}"#)
        }
        let local = try runtime(try pipeline("  - ensemble: [{ model: m, samples: 1 }]\n", server: llama))
        let one = await local.run(Query(prompt: "q"))
        try await local.shutdown()
        #expect(one.usage.inputTokens == 900 && one.usage.promptCachedTokens == 640)

        let anthropic = try ScriptedLLMServer(responder: Self.longAnswers(3000))
        anthropic.simulatePromptCache()
        let rt = try runtime(
            try pipeline(
                "  - ensemble: [{ model: m, samples: 2 }]\n  - critique: { model: m }\n  - fuse: [m]\n", server: anthropic, provider: "anthropic",
                capabilities: "{ prefix_cache: true }", apiKeyEnv: "STRATA_TEST_KEY"),
            environment: ["STRATA_TEST_KEY": "sk-ant-test-0123456789"])
        let result = await rt.run(Query(prompt: "Explain tides."), onDelta: { _ in })
        try await rt.shutdown()
        #expect(result.failure == nil)
        #expect(anthropic.requests.last?.stream == true, "the last call streams")
        #expect(result.layers[2].usage.promptCachedTokens > 0)
        #expect(result.layers[2].usage.inputTokens > result.layers[2].usage.promptCachedTokens, "input counts the cached part too")
    }

    /// Usage stored by a build before cached prompt tokens were counted still reads (a run store, a cached reply).
    @Test func usageWrittenBeforeCachedTokensWereCountedStillReads() throws {
        let old =
            #"{"calls":3,"cacheHits":1,"failedCalls":0,"retries":0,"inputTokens":90,"outputTokens":12,"cachedInputTokens":0,"#
            + #""cachedOutputTokens":0,"rateLimitedCalls":0,"usd":0.5,"seconds":2}"#
        let usage = try JSONDecoder().decode(RunUsage.self, from: Data(old.utf8))
        #expect(usage.calls == 3 && usage.inputTokens == 90 && usage.usd == 0.5 && usage.promptCachedTokens == 0)
        let reply = try JSONDecoder().decode(Usage.self, from: Data(#"{"inputTokens":7,"outputTokens":2}"#.utf8))
        #expect(reply.inputTokens == 7 && reply.cachedInputTokens == 0)
        var again = usage
        again.promptCachedTokens = 40
        #expect(try JSONDecoder().decode(RunUsage.self, from: JSONEncoder().encode(again)) == again)
    }
}
