import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

@testable import StrataRuntime

/// The runtime runs the compiled graph: per-candidate work starts when its
/// candidate exists, and results do not depend on when replies arrive.
@Suite struct DataflowTests {
    /// Requests whose prompt is a generating call (the ensemble's system prompt reaches the model first).
    static func isSample(_ request: ReceivedRequest) -> Bool {
        let text = request.promptText
        return !text.contains("[1]") && !text.lowercased().contains("verdict") && !text.contains("unit tests for the instruction")
            && !text.lowercased().contains("reasoning") && !text.lowercased().contains("correct")
    }

    @Test func verifyStartsOnEachCandidateAsItArrives() async throws {
        // One sample of three is held until the other two have been verified
        // (reasoning and verdict each): a layer-by-layer runtime would wait out the 30 s.
        let requests = RequestLog()
        let server = try ScriptedLLMServer { request, _ in
            requests.add(request)
            let answer = ScriptedLLMServer.defaultAnswer(for: request)
            if Self.isSample(request), let seed = request.seed, seed % 3 == 2 {
                return .held(until: { requests.count(where: { !Self.isSample($0) }) >= 4 }, timeout: 30, .text(answer))
            }
            return .text(answer)
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - verify: { model: m, on_empty: keep-all }
                """, server: server))
        let started = Date()
        let result = await rt.run(Query(prompt: "What is 6 × 7?"))
        try await rt.shutdown()
        #expect(result.answer != nil, "\(result.failure ?? "")")
        #expect(result.layers.map(\.candidates.count) == [3, 3])
        #expect(server.requests.filter { !Self.isSample($0) }.count == 6)
        #expect(Date().timeIntervalSince(started) < 25, "the fast candidates were not verified while the slow one was written")
    }

    @Test func testsAreWrittenWhileTheCandidatesAre() async throws {
        // The samples are held until the test writer has been asked.
        let requests = RequestLog()
        let isWriter: @Sendable (ReceivedRequest) -> Bool = { $0.promptText.contains("unit tests for the instruction") }
        let server = try ScriptedLLMServer { request, _ in
            requests.add(request)
            let answer = ScriptedLLMServer.defaultAnswer(for: request)
            return Self.isSample(request) ? .held(until: { requests.count(where: isWriter) > 0 }, timeout: 30, .text(answer)) : .text(answer)
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 2 }]
                  - unit-test: { model: m, tests: 2, top_k: 1, on_empty: keep-all }
                """, server: server))
        let started = Date()
        let result = await rt.run(Query(prompt: "Say hello."))
        try await rt.shutdown()
        #expect(result.answer != nil, "\(result.failure ?? "")")
        #expect(server.requests.contains(where: isWriter))
        #expect(Date().timeIntervalSince(started) < 25, "the test writer waited for the samples")
    }

    @Test func anEarlyStoppingVoteDrawsOnlyTheSamplesItNeeds() async throws {
        // unbeatable: after 8 votes for 42 the last 7 cannot change the winner;
        // 0.95: after 4, P(majority) = 31/32 already; window 3: three in a row agree.
        for (rule, stop) in [("unbeatable", 8), ("0.95", 4), ("{ window: 3 }", 3)] {
            for wave in [1, 5] {
                // A server per run: requests cancelled in flight may reach a server after its run ends.
                let server = try ScriptedLLMServer { _, _ in .text("The answer is 42.") }
                let rt = try runtime(
                    try pipeline(
                        """
                          - ensemble: [{ model: m, samples: 15 }]
                          - vote: { extractor: numeric, early_stop: \(rule), wave: \(wave) }
                        """, server: server))
                let result = await rt.run(Query(prompt: "What is 6 × 7?"))
                try await rt.shutdown()
                #expect(result.answer == "The answer is 42.", "\(result.failure ?? "")")
                #expect(result.layers[1].notes.contains { $0.hasPrefix("early stop after \(stop) of 15 samples") }, "\(result.layers[1].notes)")
                // One in flight: exactly the samples judged. Five: the stop point is the same, and
                // at most the four others in flight when it fired were sent besides.
                #expect((stop...(stop + wave - 1)).contains(server.requestCount), "\(rule), wave \(wave): \(server.requestCount)")
                #expect(result.layers[0].candidates.count == stop, "samples past the stop are not counted")
            }
        }
        // Answers that disagree are all drawn, and the vote is the full count's. (A new server:
        // requests cancelled in flight above may still reach the old one.)
        let disagreeing = try ScriptedLLMServer { request, _ in .text("The answer is \((request.seed ?? 0) % 3).") }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 6 }]
                  - vote: { extractor: numeric, early_stop: 0.99, wave: 2 }
                """, server: disagreeing))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(disagreeing.requestCount == 6)
        #expect(result.layers[1].candidates.count == 2)
    }

    @Test func aQuorumGoesOnWithTheFirstSamplesAndCancelsTheRest() async throws {
        // Samples with seeds 102 and 104 never answer in time; the quorum of 3 goes on without them.
        let server = try ScriptedLLMServer { request, _ in
            let answer = ScriptedLLMServer.defaultAnswer(for: request)
            if Self.isSample(request), let seed = request.seed, [102, 104].contains(seed) { return .delayed(120, .text(answer)) }
            return .text(answer)
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: { models: [{ model: m, samples: 5 }], quorum: 3 }
                  - verify: { model: m, on_empty: keep-all }
                """, server: server))
        let started = Date()
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        // Loose: CI runs this beside the local model, which takes both cores; the stragglers take 120 s.
        #expect(Date().timeIntervalSince(started) < 60, "the stragglers were waited for")
        #expect(result.answer != nil, "\(result.failure ?? "")")
        #expect(result.layers[0].candidates.map(\.origin) == ["m#0", "m#1", "m#3"])
        #expect(result.layers[0].notes.contains { $0.hasPrefix("quorum: went on with the first 3 of 5") })
        #expect(result.layers[1].candidatesIn == 3)
        #expect(
            server.requests.filter { !Self.isSample($0) }.count == 6,
            "each arrived sample verified once: \(result.layers.map(\.notes)) \(server.requests.map { String($0.promptText.prefix(60)) })")
    }

    @Test func aQueryOutOfTimeAnswersWithWhatItHas() async throws {
        // The fuse never answers in time; the 20 s latency budget, on a clock the test moves once the
        // fuse's call is out, ends the query with the rank's pick.
        let server = try ScriptedLLMServer { request, _ in
            let answer = ScriptedLLMServer.defaultAnswer(for: request)
            return request.promptText.contains("Synthesize") || request.promptText.contains("drafts") ? .delayed(120, .text(answer)) : .text(answer)
        }
        let source = """
            strata: 1
            models:
              m: { provider: openai-compatible, model: q, base_url: "\(server.baseURL)", capabilities: { json_schema: false },
                   latency: { overhead_ms: 10, tokens_per_second: 100000 } }
            defaults: { max_tokens: 64, seed: 100, temperature: 0.7 }
            budget: { latency_s: 20 }
            layers:
              - ensemble: [{ model: m, samples: 3 }]
              - rank: { model: m, top_k: 1 }
              - fuse: [m]
            """
        let compiled = try #require(PipelineCompiler().compile(source: source, path: "deadline.yaml").compiled)
        let clock = ManualClock()
        let rt = try PipelineRuntime(compiled: compiled, options: RuntimeOptions(retry: quickRetry, clock: clock))
        let started = Date()
        let run = Task { await rt.run(Query(prompt: "q")) }
        #expect(await eventually(within: 60) { server.requests.contains { $0.promptText.contains("Synthesize") } })
        #expect(await clock.waitForSleepers(1))
        clock.advance(seconds: 20)
        let result = await run.value
        try await rt.shutdown()
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed < 60, "took \(elapsed) s")
        #expect(result.answer == result.layers.last?.candidates.first?.text, "\(result.failure ?? "")")
        #expect(result.layers.map(\.kind) == ["ensemble", "rank"])
        #expect(result.notices.contains { $0.contains("latency budget of 20.0 s ran out during layer 3 (fuse)") }, "\(result.notices)")
    }

    @Test func entriesCanTakeTheirOwnApproach() async throws {
        let server = try ScriptedLLMServer()
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble:
                      - { model: m, samples: 2, prompt: "Solve it step by step." }
                      - { model: m, samples: 1, prompt: "Work backwards from what is asked." }
                      - { model: m, samples: 1 }
                  - fuse: [m]
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.answer != nil, "\(result.failure ?? "")")
        let systems = server.requests.compactMap { request -> String? in
            let messages = request.body["messages"] as? [[String: Any]] ?? []
            return messages.first { $0["role"] as? String == "system" }?["content"] as? String
        }
        #expect(systems.filter { $0 == "Solve it step by step." }.count == 2)
        #expect(systems.filter { $0 == "Work backwards from what is asked." }.count == 1)
        #expect(result.layers[0].candidates.map(\.origin) == ["m#0", "m#1", "m#2", "m#3"])
    }

    @Test func majorityProbabilityIsTheBetaPosterior() {
        #expect(abs(EarlyStop.majorityProbability(leader: 2, second: 0) - 0.875) < 1e-12)
        #expect(abs(EarlyStop.majorityProbability(leader: 5, second: 0) - 63.0 / 64) < 1e-12)
        #expect(abs(EarlyStop.majorityProbability(leader: 1, second: 1) - 0.5) < 1e-12)
    }

    /// Every example pipeline, its models pointed at the test server: the same
    /// replies arriving in any order give the same answer, pools, notes and usage,
    /// and a run with every reply well formed makes exactly the compiled calls.
    @Test func everyExamplePipelineIsDeterministicUnderJitter() async throws {
        let root = packageRoot
        let files = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Pipelines").path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 10)
        let server = try ScriptedLLMServer(threads: 2)
        for file in files {
            let result = PipelineCompiler().compile(path: root.appendingPathComponent("Pipelines/\(file)").path)
            guard var pipeline = result.compiled?.pipeline else {
                Issue.record("\(file) does not compile")
                continue
            }
            for index in pipeline.models.indices {
                pipeline.models[index].provider = .openaiCompatible
                pipeline.models[index].baseURL = server.baseURL
                pipeline.models[index].apiKeyEnv = []
                pipeline.models[index].requestsPerMinute = nil
                pipeline.models[index].tokensPerMinute = nil
            }
            var runs: [RunResult] = []
            for jitter in [0.0, 1.0, 2.0] {
                // Lognormal latency (median 20 ms) drawn from the request and the round, so each ordering differs.
                server.setResponder { request, _ in
                    let answer = ScriptedLLMServer.defaultAnswer(for: request)
                    guard jitter > 0 else { return .text(answer) }
                    var generator = SeededGenerator(seed: UInt64(truncatingIfNeeded: request.rawBody.hashValue) &+ UInt64(jitter * 1000))
                    return .delayed(0.02 * exp(0.5 * generator.normal()), .text(answer))
                }
                let rt = try runtime(pipeline)
                runs.append(await rt.run(Query(prompt: "What is 12 + 30? Answer with a number.", tests: "assert True")))
                try await rt.shutdown()
            }
            let first = runs[0]
            // first_k stops calls once its answer is known, so how many were sent depends on arrival order.
            // So does an early-stopping vote: the samples in flight when it fires were sent.
            let hasEarlyStop = pipeline.layers.contains { $0.firstK != nil || $0.earlyStop != nil }
            for other in runs.dropFirst() {
                #expect(other.answer == first.answer, "\(file)")
                #expect(other.failure == first.failure, "\(file)")
                #expect(other.layers.map(\.candidates) == first.layers.map(\.candidates), "\(file)")
                #expect(other.layers.map { $0.notes.sorted() } == first.layers.map { $0.notes.sorted() }, "\(file)")
                if !hasEarlyStop {
                    #expect(other.usage.calls == first.usage.calls && other.usage.outputTokens == first.usage.outputTokens, "\(file)")
                }
            }
            let compiledCalls = result.compiled!.graph.worstCaseCallNodes
            if first.failure == nil, !hasEarlyStop, first.layers.allSatisfy({ $0.candidatesIn > 0 || $0.index == 0 }) {
                // A malformed reply's retries (a critique asked again with a new seed) are the graph's calls asked twice.
                let retries = first.layers.flatMap(\.notes).filter { $0.contains("retrying with a new seed") }.count
                #expect(first.usage.calls + first.usage.cacheHits - retries <= compiledCalls, "\(file)")
            }
        }
    }
}

/// Random valid pipelines, each run with replies arriving in order and with
/// jitter: the answer, every pool and the notes must not depend on timing,
/// and no run makes more calls than its compiled graph.
@Suite struct RandomPipelineTests {
    static func randomLayers(_ generator: inout SeededGenerator) -> String {
        func pick(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &generator) }
        var layers =
            "  - ensemble: [{ model: m, samples: \(pick(1...5)) }"
            + (pick(0...1) == 1 ? ", { model: m, samples: \(pick(1...3)), prompt: \"Think twice.\" }" : "") + "]\n"
        for _ in 0..<pick(0...3) {
            switch pick(0...6) {
            case 0: layers += "  - critique: { model: m }\n"
            case 1: layers += "  - rank: { model: m, top_k: 1 }\n"
            case 2: layers += "  - fuse: [{ model: m, samples: \(pick(1...3)) }]\n"
            case 3: layers += "  - verify: { model: m, on_empty: keep-all\(pick(0...1) == 1 ? ", first_k: 1" : "") }\n"
            case 4: layers += "  - vote: { extractor: numeric }\n"
            case 5: layers += "  - unit-test: { model: m, tests: 2, top_k: 1, on_empty: keep-all }\n"
            default: layers += "  - rank: { model: m, top_k: 2 }\n"
            }
        }
        return layers + "  - fuse: [m]\n"
    }

    @Test func randomPipelinesAreDeterministicUnderJitter() async throws {
        var generator = SeededGenerator(seed: 2026)
        let server = try ScriptedLLMServer(threads: 2)
        var ran = 0
        for _ in 0..<30 {
            let layers = Self.randomLayers(&generator)
            guard let pipeline = try? pipeline(layers, server: server) else { continue }
            let compiledCalls = GraphBuilder.build(pipeline).nodes.filter(\.operation.isCall).count
            var runs: [RunResult] = []
            for round in 0..<2 {
                server.setResponder { request, _ in
                    let answer = ScriptedLLMServer.defaultAnswer(for: request)
                    guard round > 0 else { return .text(answer) }
                    var jitter = SeededGenerator(seed: UInt64(truncatingIfNeeded: request.rawBody.hashValue))
                    return .delayed(0.01 * exp(0.7 * jitter.normal()), .text(answer))
                }
                let rt = try runtime(pipeline)
                runs.append(await rt.run(Query(prompt: "What is 2 + 3?")))
                try await rt.shutdown()
            }
            ran += 1
            #expect(runs[0].answer == runs[1].answer, "\(layers)")
            #expect(runs[0].failure == runs[1].failure, "\(layers)")
            #expect(runs[0].layers.map(\.candidates) == runs[1].layers.map(\.candidates), "\(layers)")
            #expect(runs[0].layers.map { $0.notes.sorted() } == runs[1].layers.map { $0.notes.sorted() }, "\(layers)")
            #expect(runs.allSatisfy { $0.usage.calls <= compiledCalls }, "\(layers)")
        }
        #expect(ran >= 20, "most random pipelines should compile")
    }
}

extension SeededGenerator {
    /// A standard normal draw (Box–Muller), for lognormal latencies.
    mutating func normal() -> Double {
        sqrt(-2 * log(Double.random(in: Double.ulpOfOne...1, using: &self))) * cos(2 * .pi * Double.random(in: 0..<1, using: &self))
    }
}

/// Requests as the responder sees them, for conditions on what has arrived.
final class RequestLog: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [ReceivedRequest] = []
    func add(_ request: ReceivedRequest) { lock.withLock { requests.append(request) } }
    func count(where predicate: (ReceivedRequest) -> Bool) -> Int { lock.withLock { requests.filter(predicate).count } }
}
