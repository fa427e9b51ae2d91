import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

/// Confidence from the model: asked for where a model declares logprobs,
/// carried by every candidate and cached with the reply, and used by votes.
@Suite struct ConfidenceTests {
    static let logprobs = "{ json_schema: false, logprobs: true }"

    /// Three unsure samples answer 41, two sure ones 42 (by seed: the ensemble's seeds are 100…104).
    static func splitVote(sure: Double = -0.05, unsure: Double = -2.0) -> ScriptedLLMServer.Responder {
        { request, _ in
            guard let seed = request.seed else { return .text("no seed") }
            return seed % 5 < 3 ? .scored("I think it is 41.", logprob: unsure) : .scored("It is 42.", logprob: sure)
        }
    }

    @Test func aConfidenceWeightedVoteLetsSureSamplesOutvoteGuesses() async throws {
        let server = try ScriptedLLMServer(responder: Self.splitVote())
        let layers = """
              - ensemble: [{ model: m, samples: 5 }]
              - vote: { weight: WEIGHT }
            """
        var answers: [String: String] = [:]
        for weight in ["count", "confidence"] {
            let rt = try runtime(
                try pipeline(layers.replacingOccurrences(of: "WEIGHT", with: weight), server: server, capabilities: Self.logprobs))
            let result = await rt.run(Query(prompt: "What is 6 × 7?"))
            try await rt.shutdown()
            answers[weight] = result.answer
            if weight == "confidence" {
                #expect(
                    result.layers[1].notes.contains { $0.hasPrefix("vote (numeric, weighted by confidence): 42: 1.90 (2), 41: 0.41 (3)") },
                    "\(result.layers[1].notes)")
                let confidences = result.layers[0].candidates.compactMap(\.confidence)
                #expect(confidences.count == 5)
                #expect(confidences.allSatisfy { $0.lowestGroup == nil }, "no alternatives asked for without keep")
            }
        }
        #expect(answers["count"]?.contains("41") == true)
        #expect(answers["confidence"]?.contains("42") == true)
        // Every sample asked for log-probabilities, and no alternatives (no vote filters on them).
        #expect(server.requests.allSatisfy { $0.body["logprobs"] as? Bool == true && $0.body["top_logprobs"] == nil })
    }

    @Test func keepCountsOnlyTheMostConfidentShare() async throws {
        let server = try ScriptedLLMServer(responder: Self.splitVote())
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 5 }]
                  - vote: { keep: 40% }
                """, server: server, capabilities: Self.logprobs))
        let result = await rt.run(Query(prompt: "What is 6 × 7?"))
        try await rt.shutdown()
        #expect(result.answer?.contains("42") == true, "\(result.layers[1].notes)")
        #expect(result.layers[1].notes.contains { $0.contains("3 of 5 left out as the least confident (keep)") }, "\(result.layers[1].notes)")
        // Group confidence needs the alternatives: five per token.
        #expect(server.requests.allSatisfy { $0.body["top_logprobs"] as? Int == 5 })
        #expect(result.layers[0].candidates.allSatisfy { $0.confidence?.lowestGroup != nil })
    }

    @Test func aModelWithoutLogprobsIsNeverAskedForThem() async throws {
        let server = try ScriptedLLMServer(responder: Self.splitVote())
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - vote: {}
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.answer != nil)
        #expect(server.requests.allSatisfy { $0.body["logprobs"] == nil })
        #expect(result.layers[0].candidates.allSatisfy { $0.confidence == nil })
    }

    @Test func confidenceIsCachedWithTheReplyAndTraced() async throws {
        let directory = try temporaryDirectory()
        let server = try ScriptedLLMServer(responder: Self.splitVote())
        let layers = """
              - ensemble: [{ model: m, samples: 5 }]
              - vote: { weight: confidence }
            """
        var runs: [RunResult] = []
        for _ in 0..<2 {
            let cache = try ResponseCache(path: directory.appendingPathComponent("cache.sqlite").path)
            let trace = try TraceWriter(path: directory.appendingPathComponent("trace.jsonl").path)
            let rt = try runtime(try pipeline(layers, server: server, capabilities: Self.logprobs), cache: cache, trace: trace)
            runs.append(await rt.run(Query(prompt: "What is 6 × 7?")))
            try await rt.shutdown()
        }
        #expect(server.requestCount == 5, "the second run is served from the cache")
        #expect(runs[1].usage.cacheHits == 5)
        #expect(runs[1].answer == runs[0].answer)
        #expect(runs[1].layers[0].candidates.map(\.confidence) == runs[0].layers[0].candidates.map(\.confidence))
        let lines = try String(contentsOfFile: directory.appendingPathComponent("trace.jsonl").path, encoding: .utf8).split(separator: "\n")
        let samples = lines.filter { $0.contains(#""operation":"generate""#) }
        #expect(samples.count == 10)
        #expect(samples.allSatisfy { $0.contains(#""confidence":[{"#) && $0.contains(#""meanLogprob""#) }, "\(samples.first ?? "")")
    }

    @Test func theTimelineCarriesEachCallsConfidence() async throws {
        let server = try ScriptedLLMServer(responder: Self.splitVote())
        var options = RuntimeOptions(retry: quickRetry)
        options.recordTimeline = true
        let rt = try PipelineRuntime(
            pipeline: try pipeline(
                """
                  - ensemble: [{ model: m, samples: 5 }]
                  - vote: { weight: confidence }
                """, server: server, capabilities: Self.logprobs), options: options)
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        let confidences = result.timeline.compactMap(\.confidence).sorted()
        #expect(confidences.count == 5)
        #expect(abs(confidences[0] - exp(-2.0)) < 1e-9 && abs(confidences[4] - exp(-0.05)) < 1e-9)
    }

    @Test func aConsensusOfSureSamplesStopsTheDrawing() async throws {
        // Every sample says 42, surely: two agreeing samples hold all the weight.
        let server = try ScriptedLLMServer { _, _ in .scored("It is 42.", logprob: -0.05) }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 12 }]
                  - vote: { weight: confidence, early_stop: { consensus: 0.9 }, wave: 1 }
                """, server: server, capabilities: Self.logprobs))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(server.requestCount == 2)
        #expect(
            result.layers[1].notes.contains { $0.hasPrefix("early stop after 2 of 12 samples: the leading answer holds 100% of the votes") },
            "\(result.layers[1].notes)")
    }

    @Test func theLowestGroupIsTheWeakestStretch() {
        // 40 sure tokens, then 8 unsure ones: the mean hides them, the lowest 32-token group does not.
        let sure = TokenLogprob(logprob: -0.01, top: [-0.01, -6, -7])
        let unsure = TokenLogprob(logprob: -1.2, top: [-1.2, -1.3, -1.5])
        let confidence = try! #require(Confidence(tokens: Array(repeating: sure, count: 40) + Array(repeating: unsure, count: 8)))
        let sureToken = (0.01 + 6 + 7) / 3, unsureToken = (1.2 + 1.3 + 1.5) / 3
        #expect(abs(confidence.lowestGroup! - (24 * sureToken + 8 * unsureToken) / 32) < 1e-9)
        #expect(abs(confidence.meanLogprob - (40 * -0.01 + 8 * -1.2) / 48) < 1e-9)
        #expect(Confidence(tokens: []) == nil)
        #expect(Confidence(tokens: [TokenLogprob(logprob: -0.5, top: [])])?.lowestGroup == nil)
    }

    @Test func weightedMajorityProbabilityMatchesTheBinomialSum() {
        // Integer counts: the incomplete beta agrees with the unweighted rule's binomial sum.
        for (leader, second) in [(2.0, 0.0), (5.0, 0.0), (1.0, 1.0), (7.0, 3.0)] {
            let n = Int(leader + second) + 1
            var sum = 0.0
            var term = 1.0
            for k in 0...Int(leader) {
                if k > 0 { term *= Double(n - k + 1) / Double(k) }
                sum += term
            }
            #expect(abs(EarlyStop.majorityProbability(leader: leader, second: second) - sum / pow(2, Double(n))) < 1e-9)
        }
        #expect(EarlyStop.majorityProbability(leader: 2.5, second: 0.5) > EarlyStop.majorityProbability(leader: 2, second: 1))
    }
}
