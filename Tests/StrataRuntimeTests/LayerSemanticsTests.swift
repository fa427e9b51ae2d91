import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

@Suite struct LayerSemanticsTests {
    @Test func sampleRankFuseAnswersWithDistinctSeeds() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 10 }]
                  - rank: { model: m, top_k: 5 }
                  - fuse: [m]
                """, server: server))
        let result = await rt.run(Query(prompt: "What is 2+2?"))
        try await rt.shutdown()
        #expect(result.failure == nil)
        #expect(result.answer?.hasPrefix("answer(seed 100)") == true)
        #expect(server.requestCount == 12)
        let seeds = server.requests.prefix(10).compactMap(\.seed)
        #expect(Set(seeds) == Set(100..<110))
        #expect(result.layers.map(\.candidates.count) == [10, 5, 1])
        // The echo server ranks in reverse: the top five are samples 9…5.
        #expect(result.layers[1].candidates.map(\.origin) == ["m#9", "m#8", "m#7", "m#6", "m#5"])
        #expect(result.usage.calls == 12)
        #expect(result.usage.inputTokens == 120)
    }

    @Test func critiquesAttachToTheirCandidatesAndReachTheFuser() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - critique: { model: m }
                  - rank: { model: m, top_k: 2 }
                  - fuse: [m]
                """, server: server))
        let result = await rt.run(Query(prompt: "Explain tides."))
        try await rt.shutdown()
        #expect(result.failure == nil)
        #expect(result.layers[1].candidates.allSatisfy { $0.critique == "Strengths: clear.\nWeaknesses: none found." })
        let fusePrompt = server.requests.last?.promptText ?? ""
        #expect(fusePrompt.contains("Critiques of the responses:\n\n[1] Strengths: clear."))
        // Fuse makes new candidates: no critiques carried forward.
        #expect(result.layers[3].candidates.allSatisfy { $0.critique == nil })
    }

    @Test func unparseableCritiqueIsRetriedThenFailsTheQueryWhenThePipelineSaysSo() async throws {
        let server = try ScriptedLLMServer { request, _ in
            request.promptText.contains("Strengths:") ? .text("I liked them all.") : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 2 }]
                  - critique: { model: m, on_malformed: fail }
                  - fuse: [m]
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.answer == nil)
        #expect(result.failure?.contains("critique failed") == true)
        // 2 samples + 3 critique attempts (each with its own seed).
        #expect(server.requestCount == 5)
        let critiqueSeeds = server.requests.suffix(3).compactMap(\.seed)
        #expect(Set(critiqueSeeds).count == 3)
    }

    @Test func malformedRankingIsRepairedAndRecorded() async throws {
        let server = try ScriptedLLMServer { request, _ in
            request.promptText.contains("Rank the") ? .text("[3] > [3] > [9]") : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - rank: { model: m, top_k: 2 }
                  - fuse: [m]
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.layers[1].candidates.map(\.origin) == ["m#2", "m#0"])
        let notes = result.layers[1].notes.joined(separator: "\n")
        #expect(notes.contains("ranking repaired"))
        #expect(notes.contains("id 9 is out of range"))
        #expect(notes.contains("id 3 is repeated"))
    }

    @Test func rankAsksForJSONSchemaWhenTheModelSupportsIt() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - rank: { model: m, top_k: 1 }
                """, server: server, capabilities: "{ json_schema: true }"))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        let rankRequest = try #require(server.requests.last)
        let format = rankRequest.body["response_format"] as? [String: Any]
        #expect(format?["type"] as? String == "json_schema")
        #expect(result.answer?.contains("seed 102") == true)
    }

    @Test func verifyKeepsCorrectOnesAndFallsBackPerPolicy() async throws {
        // Candidates from even seeds are judged correct.
        let server = try ScriptedLLMServer { request, _ in
            let prompt = request.promptText
            if prompt.contains("[Correct] or [Incorrect]") {
                return .text(
                    prompt.contains("A response to it:\nanswer(seed 100)") || prompt.contains("A response to it:\nanswer(seed 102)")
                        ? "Fine. [Correct]" : "Wrong. [Incorrect]")
            }
            return .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 4 }]
                  - verify: { model: m, on_empty: keep-all }
                  - fuse: [m]
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        #expect(result.layers[1].candidates.map(\.origin) == ["m#0", "m#2"])
        #expect(result.layers[1].notes.contains("[2] judged incorrect"))
        // Nothing correct: keep-all passes everything on.
        server.setResponder { request, _ in
            request.promptText.contains("[Correct] or [Incorrect]") ? .text("[Incorrect]") : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let fallback = await rt.run(Query(prompt: "another"))
        try await rt.shutdown()
        #expect(fallback.layers[1].candidates.count == 4)
        #expect(fallback.answer != nil)
    }

    @Test func verifyFailPolicyFailsTheQuery() async throws {
        let server = try ScriptedLLMServer { request, _ in
            request.promptText.contains("[Correct] or [Incorrect]") ? .text("[Incorrect]") : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 2 }]
                  - verify: { model: m, on_empty: fail }
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.answer == nil)
        #expect(result.failure?.contains("no candidate was judged correct") == true)
        #expect(result.layers[1].notes.contains { $0.contains("judged incorrect") })
    }

    @Test func verifyFirstKStopsEarlyAndDeterministically() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 6 }]
                  - verify: { model: m, first_k: 2, on_empty: fail }
                  - fuse: [m]
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.layers[1].candidates.map(\.origin) == ["m#0", "m#1"])
    }

    @Test func unitTestJudgeSortsByTestsPassed() async throws {
        let server = try ScriptedLLMServer { request, _ in
            let prompt = request.promptText
            if prompt.contains("[Passed] or") {
                // seed 101 passes both tests, seed 100 one, seed 102 none.
                if prompt.contains("seed 101)") { return .text("[1] [Passed]\n[2] [Passed]") }
                if prompt.contains("seed 100)") { return .text("[1] [Passed]\n[2] [Failed]") }
                return .text("[1] [Failed]\n[2] [Failed]")
            }
            return .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - unit-test: { model: m, tests: 2, top_k: 2, on_empty: keep-all }
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.layers[1].candidates.map(\.origin) == ["m#1", "m#0"])
        #expect(result.layers[1].candidates.map(\.testsPassed) == [2, 1])
        // 3 generations + 1 test writer + 3 judges.
        #expect(server.requestCount == 7)
    }

    @Test func unitTestFirstKKeepsTheFirstCandidatesPassingEveryTest() async throws {
        let server = try ScriptedLLMServer { request, _ in
            let prompt = request.promptText
            if prompt.contains("[Passed] or") {
                // seeds 101 and 102 pass both tests, seed 100 one.
                if prompt.contains("seed 101)") || prompt.contains("seed 102)") { return .text("[1] [Passed]\n[2] [Passed]") }
                return .text("[1] [Passed]\n[2] [Failed]")
            }
            return .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        func run(firstK: Int) async throws -> [String] {
            let rt = try runtime(
                try pipeline(
                    """
                      - ensemble: [{ model: m, samples: 3 }]
                      - unit-test: { model: m, tests: 2, top_k: 1, first_k: \(firstK), on_empty: keep-all }
                    """, server: server))
            let result = await rt.run(Query(prompt: "q"))
            try await rt.shutdown()
            return result.layers[1].candidates.map(\.origin)
        }
        // Two pass every test: first_k 2 keeps both, in pool order, whatever top_k says.
        #expect(try await run(firstK: 2) == ["m#1", "m#2"])
        // Three are asked for and only two pass all: the top_k by tests passed, as without first_k.
        #expect(try await run(firstK: 3) == ["m#1"])
    }

    @Test func writtenTestsAreShownToEveryLaterLayerAndGradedWithoutASecondWriter() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(
            try pipeline(
                """
                  - write-tests: { model: w, tests: 2 }
                  - ensemble: [{ model: m, samples: 3 }]
                  - unit-test: { model: m, test_source: written, top_k: 2, on_empty: keep-all }
                  - fuse: [m]
                """, server: server,
                extraModel: #"  w: { provider: openai-compatible, model: writer-model, base_url: "\#(server.baseURL)", capabilities: { json_schema: false } }"#)
        )
        let result = await rt.run(Query(prompt: "Write a haiku."))
        try await rt.shutdown()
        #expect(result.failure == nil)
        let requests = server.requests
        // 1 writer (on its own model, first: everything after waits for it) + 3 samples + 3 judges + 1 fuser.
        #expect(requests.count == 8)
        #expect(requests.first?.body["model"] as? String == "writer-model")
        #expect(requests.dropFirst().allSatisfy { $0.body["model"] as? String == "test-model" })
        let shown = "Your response should pass the following unit tests:\n- The response answers.\n- The response is short."
        let judges = requests.filter { $0.promptText.contains("[Passed] or") }
        let others = requests.dropFirst().filter { !$0.promptText.contains("[Passed] or") }
        #expect(judges.count == 3)
        #expect(others.count == 4)
        #expect(others.allSatisfy { $0.promptText.contains(shown) })
        // The judge grades against the tests, not a query that already states them (the echoed candidates quote its start).
        #expect(judges.allSatisfy { !$0.promptText.contains(shown) })
        #expect(result.layers.map(\.kind) == ["write-tests", "ensemble", "unit-test", "fuse"])
        #expect(result.layers[0].candidates.isEmpty)
        #expect(result.layers[0].notes.contains("shown to every later layer"))
        #expect(result.layers[2].candidates.count == 2)
        #expect(result.usage.calls == 8)
    }

    @Test func unwrittenTestsLeaveTheQueryAloneAndTheGraderFallsBack() async throws {
        let server = try ScriptedLLMServer { request, _ in
            request.promptText.contains("unit tests for the instruction") ? .status(400, message: "no") : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(
            try pipeline(
                """
                  - write-tests: { model: m }
                  - ensemble: [{ model: m, samples: 2 }]
                  - unit-test: { model: m, test_source: written, top_k: 1, on_empty: keep-all, on_failure: best-candidate }
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.failure == nil)
        #expect(result.answer?.hasPrefix("answer(seed 100)") == true)
        #expect(server.requests.allSatisfy { !$0.promptText.contains("Your response should pass") })
        #expect(result.layers[0].notes.contains { $0.contains("the later layers see the query alone") })
        // No judge runs without tests.
        #expect(server.requests.filter { $0.promptText.contains("[Passed] or") }.isEmpty)
    }

    @Test func shownTestsAreCutToTheLengthTheCheckerCountsOn() async throws {
        let long = String(repeating: "The response mentions every planet by name. ", count: 40)
        let server = try ScriptedLLMServer { request, _ in
            request.promptText.contains("unit tests for the instruction")
                ? .text("[1] \(long)\n[2] It is short.") : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(
            try pipeline(
                """
                  - write-tests: { model: m, tests: 2 }
                  - ensemble: [{ model: m, samples: 1 }]
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.failure == nil)
        let shown = try #require(server.requests.last?.promptText)
        let first = try #require(shown.components(separatedBy: "\n- ").dropFirst().first)
        #expect(first.hasSuffix("…"))
        #expect(first.utf8.count <= TokenEstimate.judgedTestTokens * 4)
        #expect(shown.hasSuffix("\n- It is short."))
    }

    @Test func hiddenTestsAreGradedButNotShown() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(
            try pipeline(
                """
                  - write-tests: { model: m, show: false }
                  - ensemble: [{ model: m, samples: 2 }]
                  - unit-test: { model: m, test_source: written, top_k: 1, on_empty: keep-all }
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.failure == nil)
        #expect(server.requests.allSatisfy { !$0.promptText.contains("Your response should pass") })
        #expect(server.requests.filter { $0.promptText.contains("[Passed] or") }.allSatisfy { $0.promptText.contains("The response is short.") })
        #expect(server.requestCount == 5)
    }

    @Test func unitTestExecuteRunsCandidateCodeInTheSandbox() async throws {
        let server = try ScriptedLLMServer { request, _ in
            let prompt = request.promptText
            if prompt.contains("Python assert statements") {
                return .text("```python\nassert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(2, 2) == 4\n```")
            }
            switch request.seed {
            case 100?: return .text("```python\ndef add(a, b):\n    return a - b\n```")
            case 101?: return .text("```python\ndef add(a, b):\n    return a + b\n```")
            default: return .text("```python\nwhile True:\n    pass\n```")
            }
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - unit-test: { model: m, mode: execute, tests: 3, top_k: 1, on_empty: fail, timeout_s: 2 }
                """, server: server))
        let result = await rt.run(Query(prompt: "Write add(a, b)."))
        try await rt.shutdown()
        #expect(result.failure == nil, "\(result.failure ?? "")")
        #expect(result.layers[1].candidates.first?.origin == "m#1")
        #expect(result.layers[1].candidates.first?.testsPassed == 3)
        #expect(result.layers[1].notes.contains { $0.contains("(timed out)") })
    }
}

@Suite struct StructuredOutputTests {
    @Test func judgingLayersAskForJSONWhereTheModelSupportsIt() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - critique: { model: m }
                  - rank: { model: m, top_k: 2 }
                  - verify: { model: m, on_empty: fail }
                  - unit-test: { model: m, tests: 2, top_k: 1, on_empty: fail }
                """, server: server, capabilities: "{ json_schema: true }"))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.failure == nil, "\(result.failure ?? "")")
        let schemaNames = server.requests.compactMap { request -> String? in
            ((request.body["response_format"] as? [String: Any])?["json_schema"] as? [String: Any])?["name"] as? String
        }
        #expect(Set(schemaNames) == ["critiques", "ranking", "verdict", "tests", "passed"])
        #expect(result.layers[1].candidates.allSatisfy { $0.critique == "Strengths: clear\nWeaknesses: none found" })
        #expect(result.layers[4].candidates.first?.testsPassed == 2)
        // Verify's reasoning call is free text: only the verdict is structured.
        #expect(schemaNames.filter { $0 == "verdict" }.count == 2)
    }

    @Test func structuredRepliesParse() {
        #expect(ReplyParsersProbe.verdict(#"{"verdict": "incorrect"}"#) == false)
        #expect(ReplyParsersProbe.passed(#"{"passed": [true, false, true]}"#, tests: 3) == 2)
        #expect(ReplyParsersProbe.critiques(#"{"critiques": [{"strengths": "a", "weaknesses": "b"}]}"#, count: 2) == nil)
    }
}

@Suite struct VoteTests {
    @Test func majorityWinsTiesGoToPoolOrderAndCountsAreRecorded() async throws {
        let answers = ["so #### 42", "It is 41.", "\\boxed{42}", "41", "I think 1,000 / 25 = 40", "no idea"]
        let server = try ScriptedLLMServer { request, _ in
            .text(answers[(request.seed ?? 100) - 100])
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 6 }]
                  - vote: { extractor: numeric }
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        // 42 ×2 and 41 ×2 tie; 42 appears first in the pool.
        #expect(result.layers[1].candidates.map(\.origin) == ["m#0", "m#2"])
        #expect(result.layers[1].notes == ["vote (numeric): 42: 2, 41: 2, 40: 1; 1 unreadable → 42"])
        #expect(result.layers[1].usage.calls == 0)
        #expect(server.requestCount == 6)
    }

    @Test func numericExtractionIsStrict() {
        let cases: [(String, String?)] = [
            ("The answer is 1,234.", "1234"), ("#### -7", "-7"), ("\\boxed{3/4}", "0.75"), ("costs $12.50 in total", "12.5"),
            ("first 3 then 5 km", "5"), ("#### 2.0", "2"), ("nothing here", nil), ("x = .5", "0.5"),
            ("We get 10 apples; \\boxed{12} is final.", "12"), ("The ratio is 6 / 8", "0.75"),
        ]
        for (text, expected) in cases {
            #expect(AnswerExtractor.extract(.numeric, from: text) == expected, "\(text)")
        }
        #expect(AnswerExtractor.extract(.exact, from: "  Paris.\n") == "paris")
        #expect(AnswerExtractor.extract(.boxed, from: "so \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}")
        #expect(AnswerExtractor.extract(.code, from: "Here:\n```python\ndef f():  \n    return 1\n```\n") == "def f():\n    return 1")
    }
}
