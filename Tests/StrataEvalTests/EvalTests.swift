import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")

@Suite struct DatasetTests {
    @Test func humanEvalReadsStraightFromGzip() throws {
        let loaded = try DatasetLoader.load(path: fixtures.appendingPathComponent("HumanEval-first5.jsonl.gz").path)
        #expect(loaded.format == .humaneval)
        #expect(loaded.items.map(\.id) == ["HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/3", "HumanEval/4"])
        #expect(loaded.items[0].tests?.hasSuffix("check(has_close_elements)\n") == true)
        #expect(loaded.hash.count == 64)
    }

    @Test func gsm8kAndReasoningGymReferences() throws {
        let path = temporaryPath("gsm.jsonl")
        try #"{"question": "2+2?", "answer": "Two and two.\n#### 4"}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let gsm = try DatasetLoader.load(path: path)
        #expect(gsm.format == .gsm8k)
        #expect(gsm.items[0].reference == "4")
        let gym = try DatasetLoader.load(path: fixtures.appendingPathComponent("gsm_symbolic-50-seed7.jsonl").path)
        #expect(gym.format == .reasoningGym)
        #expect(gym.items.count == 50)
        #expect(gym.items[0].reference == "1687.5")
    }

    @Test func mtBenchHasTwoTurns() throws {
        let path = temporaryPath("mt.jsonl")
        try #"{"question_id": 81, "category": "writing", "turns": ["Write a poem.", "Now make it rhyme."]}"#.write(
            toFile: path, atomically: true, encoding: .utf8)
        let loaded = try DatasetLoader.load(path: path)
        #expect(loaded.format == .mtbench)
        #expect(loaded.items[0].id == "81")
        #expect(loaded.items[0].followUps == ["Now make it rhyme."])
    }

    @Test func crlfInvalidBytesAndIdsAreReadAsWritten() throws {
        let path = temporaryPath("ids.jsonl")
        try "{\"id\": 12, \"prompt\": \"a\"}\r\n\r\n{\"id\": \"x-1\", \"prompt\": \"b\"}\r\n".write(toFile: path, atomically: true, encoding: .utf8)
        let loaded = try DatasetLoader.load(path: path, format: .jsonl)
        #expect(loaded.items.map(\.id) == ["12", "x-1"])
        #expect(loaded.items.map { $0.query.messages.last?.content } == ["a", "b"])

        for (line, expected) in [
            ("{\"id\": true, \"prompt\": \"a\"}", ":2: 'id' must be a string or an integer"),
            ("{\"id\": 1.5, \"prompt\": \"a\"}", ":2: 'id' must be a string or an integer"),
        ] {
            try ("{\"id\": 1, \"prompt\": \"ok\"}\r\n" + line + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            #expect { try DatasetLoader.load(path: path, format: .jsonl) } throws: { "\($0)".contains(path + expected) }
        }
        try Data(Array("{\"prompt\": \"ok\"}\n{\"prompt\": \"caf".utf8) + [0xE9] + Array("\"}\n".utf8)).write(to: URL(fileURLWithPath: path))
        #expect { try DatasetLoader.load(path: path, format: .jsonl) } throws: { "\($0)".hasPrefix(path + ":2:") }
    }

    @Test func fieldMappingAndBadLines() throws {
        let path = temporaryPath("map.jsonl")
        try "{\"q\": \"hi\", \"a\": \"hello\", \"key\": 7}\nnot json\n".write(toFile: path, atomically: true, encoding: .utf8)
        var fields = FieldMapping()
        fields.query = "q"
        fields.reference = "a"
        fields.id = "key"
        #expect(throws: DatasetError.self) { try DatasetLoader.load(path: path, format: .jsonl, fields: fields) }
        try "{\"q\": \"hi\", \"a\": \"hello\", \"key\": 7}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let loaded = try DatasetLoader.load(path: path, format: .jsonl, fields: fields)
        #expect(loaded.items[0].id == "7")
        #expect(loaded.items[0].reference == "hello")
    }

    @Test func splitsAreDeterministicAndComplementary() throws {
        let items = try DatasetLoader.load(path: fixtures.appendingPathComponent("gsm_symbolic-50-seed7.jsonl").path).items
        let dev = DatasetSplit("dev:0.2", seed: 3)!.apply(items)
        let test = DatasetSplit("test:0.2", seed: 3)!.apply(items)
        #expect(dev.count + test.count == items.count)
        #expect(Set(dev.map(\.id)).isDisjoint(with: test.map(\.id)))
        #expect(dev.map(\.id) == DatasetSplit("dev:0.2", seed: 3)!.apply(items).map(\.id))
        #expect(dev.count > 3 && dev.count < 20)
        #expect(DatasetSplit("dev:0.2", seed: 4)!.apply(items).map(\.id) != dev.map(\.id))
    }
}

@Suite struct ScorerTests {
    func item(_ reference: String?) -> DatasetItem { DatasetItem(id: "x", query: Query(prompt: "q"), reference: reference) }

    @Test func numericIsStrictAboutTheFinalAnswer() async {
        let cases: [(String, String, Double)] = [
            ("So the total is 1,687.50 dollars. #### 1687.5", "1687.5", 1),
            ("The answer is \\boxed{42}.", "42", 1),
            ("We had 42 apples but ate 2, so 40 are left.", "42", 0),  // Archon would accept: it contains 42
            ("3/4 of the cake", "0.75", 1),
            ("#### 18", "#### 18", 1),
            ("It costs $5.", "5", 1),
            ("no number", "5", 0),
        ]
        for (answer, reference, expected) in cases {
            #expect(await Scorer.numeric.score(answer: answer, item: item(reference)).score == expected, "\(answer)")
        }
    }

    @Test func textScorers() async {
        #expect(await Scorer.exact.score(answer: " Paris\n", item: item("Paris")).score == 1)
        #expect(await Scorer.exact.score(answer: "paris", item: item("Paris")).score == 0)
        #expect(await Scorer.normalized.score(answer: "  PARIS. ", item: item("Paris")).score == 1)
        #expect(await Scorer.contains.score(answer: "It is Paris, of course", item: item("paris")).score == 1)
        #expect(await Scorer("regex:^[0-9]+$")!.score(answer: "123", item: item(nil)).score == 1)
        #expect(await Scorer("regex:^[0-9]+$")!.score(answer: "12a", item: item(nil)).score == 0)
        #expect(Scorer("regex:(") == nil)
    }

    @Test func codeScorerRunsHumanEvalTests() async throws {
        let problem = try DatasetLoader.load(path: fixtures.appendingPathComponent("HumanEval-first5.jsonl.gz").path).items[0]
        let right = """
            ```python
            def has_close_elements(numbers, threshold):
                return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])
            ```
            """
        let wrong = "```python\ndef has_close_elements(numbers, threshold):\n    return False\n```"
        let hostile = "```python\ndef has_close_elements(numbers, threshold):\n    while True:\n        pass\n```"
        #expect(await Scorer.code.score(answer: right, item: problem).score == 1)
        #expect(await Scorer.code.score(answer: wrong, item: problem).score == 0)
        let hung = await Scorer.code.score(answer: hostile, item: problem, limits: SandboxLimits(wallSeconds: 1))
        #expect(hung.score == 0 && hung.detail == "timed out")
    }
}

@Suite struct StatisticsTests {
    @Test func wilsonIntervals() {
        let interval = Statistics.wilson(successes: 8, n: 10)
        #expect(abs(interval.lowerBound - 0.4902) < 0.001)
        #expect(abs(interval.upperBound - 0.9433) < 0.001)
        #expect(Statistics.wilson(successes: 0, n: 10).lowerBound == 0)
    }

    @Test func mcNemarAndPercentiles() {
        #expect(abs(Statistics.mcNemar(onlyA: 0, onlyB: 6) - 0.03125) < 1e-9)
        #expect(Statistics.mcNemar(onlyA: 3, onlyB: 3) == 1)
        #expect(Statistics.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5) == 5)
        #expect(Statistics.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95) == 10)
        let interval = Statistics.bootstrap([0.2, 0.4, 0.6, 0.8])
        #expect(interval.contains(0.5))
        #expect(interval == Statistics.bootstrap([0.2, 0.4, 0.6, 0.8]))
    }
}

@Suite struct EvaluatorTests {
    /// Answers "#### 1687.5" to gsm_symbolic-0 and "#### 0" to everything else.
    static func server() throws -> ScriptedLLMServer {
        try ScriptedLLMServer { request, _ in
            .text(request.promptText.contains("David collects garbage") ? "#### 1687.5" : "#### 0")
        }
    }

    static func runtime(_ server: ScriptedLLMServer) throws -> PipelineRuntime {
        try StrataTestSupport.runtime(try pipeline("  - ensemble: [m]", server: server))
    }

    @Test func evaluatesStoresAndResumes() async throws {
        let server = try Self.server()
        let items = Array(try DatasetLoader.load(path: fixtures.appendingPathComponent("gsm_symbolic-50-seed7.jsonl").path).items.prefix(10))
        let storePath = temporaryPath("runs.sqlite")
        let store = try RunStore(path: storePath)
        let key = RunKey(pipelineHash: "p", datasetHash: "d", scorer: "numeric", selection: "first 10")
        try await store.begin(key, pipelinePath: "eval.yaml", pipelineYAML: "", datasetPath: "gsm", items: 10)
        let runtime = try Self.runtime(server)
        let evaluator = Evaluator(runtime: runtime, scorer: .numeric, store: store, concurrency: 4)
        // A first pass over 4 items, as if killed after them.
        _ = try await evaluator.evaluate(Array(items.prefix(4)), run: key.id)
        #expect(server.requestCount == 4)
        let results = try await evaluator.evaluate(items, run: key.id)
        #expect(server.requestCount == 10, "finished items are not run again")
        #expect(results.count == 10)
        let summary = EvalSummary(pipeline: "p", results: results)
        #expect(summary.mean == 0.1)
        #expect(summary.intervalMethod == "wilson")
        // A finished run is a cache hit: no new calls.
        _ = try await evaluator.evaluate(items, run: key.id)
        #expect(server.requestCount == 10)
        try await runtime.shutdown()
    }

    @Test func pairedComparison() {
        func results(_ scores: [Double]) -> [ItemResult] {
            scores.enumerated().map { ItemResult(itemID: "i\($0.offset)", answer: "", failure: nil, score: $0.element, detail: nil, usage: RunUsage()) }
        }
        let comparison = PairedComparison(results([1, 1, 1, 1, 1, 1, 0, 1]), results([0, 0, 0, 0, 0, 0, 0, 1]))
        #expect(comparison.shared == 8)
        #expect(comparison.onlyA == 6 && comparison.onlyB == 0)
        #expect(abs(comparison.pValue - 0.03125) < 1e-9)
    }
}

@Suite struct JudgeScorerTests {
    /// A judge (or baseline) is a one-call pipeline like the evaluator tests' own.
    static func runtime(_ server: ScriptedLLMServer) throws -> PipelineRuntime { try EvaluatorTests.runtime(server) }

    @Test func singleGradingReadsTheRating() async throws {
        let server = try ScriptedLLMServer { request, _ in
            .text(request.promptText.contains("[The Start of Reference Answer]\nParis") ? "Accurate. Rating: [[8]]" : "Rating: [[3]]")
        }
        let judge = Judge(runtime: try Self.runtime(server), name: "test")
        let item = DatasetItem(id: "q1", query: Query(prompt: "Capital of France?"), reference: "Paris")
        let outcome = await Scorer.judge(judge).score(answer: "Paris.", item: item)
        #expect(outcome.score == 0.8)
        #expect(outcome.detail == "rated 8/10")
        server.setResponder { _, _ in .text("I cannot rate this.") }
        let unreadable = await Scorer.judge(judge).score(answer: "Lyon.", item: DatasetItem(id: "q2", query: Query(prompt: "x")))
        #expect(unreadable.score == 0 && unreadable.detail == "the judge gave no [[rating]]")
        try await judge.runtime.shutdown()
    }

    @Test func pairwisePlaysBothOrdersAndCancelsPositionBias() async throws {
        // A fair judge: excellent > good > poor, wherever the answer stands; equal is a tie.
        let server = try ScriptedLLMServer { request, _ in
            let prompt = request.promptText
            guard prompt.contains("Assistant A's Answer") else { return .text("a good baseline answer") }
            func quality(_ mark: String) -> Int {
                let answer = prompt.components(separatedBy: "[The Start of Assistant \(mark)'s Answer]\n")[1].components(separatedBy: "\n[The End")[0]
                return answer.contains("excellent") ? 3 : answer.contains("good") ? 2 : 1
            }
            let (a, b) = (quality("A"), quality("B"))
            return .text(a > b ? "[[A]]" : a < b ? "[[B]]" : "[[C]]")
        }
        let judgeRuntime = try Self.runtime(server), baseline = try Self.runtime(server)
        let scorer = Scorer.pairwise(Judge(runtime: judgeRuntime, name: "fair"), baseline: baseline, baselineName: "base")
        let item = DatasetItem(id: "q", query: Query(prompt: "Say something."))
        #expect(await scorer.score(answer: "an excellent answer", item: item).score == 1)
        #expect(await scorer.score(answer: "a poor answer", item: item).score == 0)
        #expect(await scorer.score(answer: "another good answer", item: item).score == 0.5)
        // A judge that always says A (pure position bias) produces disagreements: ties.
        server.setResponder { request, _ in .text(request.promptText.contains("Assistant A's Answer") ? "[[A]]" : "baseline") }
        let biased = await scorer.score(answer: "another answer", item: item)
        #expect(biased.score == 0.5)
        #expect(biased.detail?.contains("disagree") == true)
        try await judgeRuntime.shutdown()
        try await baseline.shutdown()
    }
}

@Suite struct MultiTurnTests {
    @Test func theSecondTurnSeesTheFirstAnswer() async throws {
        let server = try ScriptedLLMServer { request, _ in
            let messages = request.body["messages"] as? [[String: Any]] ?? []
            return .text(messages.count > 2 ? "turn two, after: \(messages[messages.count - 2]["content"] as? String ?? "")" : "first answer")
        }
        let runtime = try EvaluatorTests.runtime(server)
        let store = try RunStore(path: temporaryPath("mt.sqlite"))
        let key = RunKey(pipelineHash: "p", datasetHash: "mt", scorer: "contains", selection: "")
        try await store.begin(key, pipelinePath: "p", pipelineYAML: "", datasetPath: "mt", items: 1)
        let item = DatasetItem(id: "81", query: Query(prompt: "Write a poem."), reference: "after: first answer", followUps: ["Now make it rhyme."])
        let results = try await Evaluator(runtime: runtime, scorer: .contains, store: store).evaluate([item], run: key.id)
        try await runtime.shutdown()
        #expect(results.first?.answer == "turn two, after: first answer")
        #expect(results.first?.score == 1)
        #expect(results.first?.usage.calls == 2)
    }
}

@Suite struct RunStoreTests {
    /// A finished item is never lost: cancelling the evaluation (a search out of
    /// budget, Ctrl-C) after the item finished still records it.
    @Test func aFinishedItemIsRecordedEvenWhenItsTaskIsCancelled() async throws {
        let store = try RunStore(path: temporaryPath("runs.sqlite"))
        let key = RunKey(pipelineHash: "p", datasetHash: "d", scorer: "exact", selection: "")
        try await store.begin(key, pipelinePath: "p", pipelineYAML: "", datasetPath: "d", items: 1)
        let task = Task {
            while !Task.isCancelled { await Task.yield() }
            try await store.record(ItemResult(itemID: "1", answer: "42", failure: nil, score: 1, detail: nil, usage: RunUsage(), layers: []), run: key.id)
        }
        task.cancel()
        try await task.value
        let recorded = try await store.results(run: key.id)
        #expect(recorded.map(\.itemID) == ["1"])
    }
}

/// Coverage curves from the samples an evaluation drew, with no extra calls.
@Suite struct CoverageTests {
    /// Item i has i right samples of 4 (sample j answers 7 when j < i, else 9), and a verifier that lets everything through.
    /// `verdict`, when given, answers the verifier's verdict calls from their prompt.
    static func server(verdict: (@Sendable (String) -> String)? = nil) throws -> ScriptedLLMServer {
        try ScriptedLLMServer { request, _ in
            let text = request.promptText
            if let verdict, text.contains("[Correct] or [Incorrect]") { return .text(verdict(text)) }
            guard !text.lowercased().contains("verdict"), !text.lowercased().contains("reasoning"), !text.contains("[1]"),
                let range = text.range(of: "item-"), let item = Int(String(text[range.upperBound...].prefix(1))), let seed = request.seed
            else { return .text(ScriptedLLMServer.defaultAnswer(for: request)) }
            return .text((seed - 100) % 4 < item ? "The answer is 7." : "The answer is 9.")
        }
    }

    /// Four items, four samples each, a verifier and a vote, evaluated against `server` into a fresh run store.
    static func evaluate(on server: ScriptedLLMServer, name: String) async throws -> EvalOutcome {
        let items = (0..<4).map { DatasetItem(id: "item-\($0)", query: Query(prompt: "item-\($0): what is 3 + 4?"), reference: "7") }
        let result = PipelineCompiler().compile(
            source: """
                strata: 1
                models:
                  m: { provider: openai-compatible, model: test-model, base_url: "\(server.baseURL)", capabilities: { json_schema: false } }
                defaults: { max_tokens: 64, seed: 100, temperature: 0.7 }
                layers:
                  - ensemble: [{ model: m, samples: 4 }]
                  - verify: { model: m, on_empty: keep-all }
                  - vote: { extractor: numeric }
                """, path: "\(name).yaml")
        let pipeline = try #require(result.compiled, "\(result.diagnostics)")
        return try await EvalJob(
            pipelines: [EvaluatedPipeline(path: "\(name).yaml", compiled: pipeline, sources: result.sources)],
            dataset: LoadedDataset(items: items, hash: name, format: .jsonl, path: "\(name).jsonl"), scorer: .numeric,
            store: try RunStore(path: temporaryPath("\(name).sqlite"))
        ).run()
    }

    @Test func passAtKMajorityAndTheVerifiersHonestyComeFromTheDrawnSamples() async throws {
        let server = try Self.server()
        let outcome = try await Self.evaluate(on: server, name: "coverage")
        let sent = server.requestCount
        let curve = try #require(outcome.runs[0].coverage)
        #expect(server.requestCount == sent, "the curve costs no calls")
        #expect(curve.items == 4 && curve.samples == 4)
        // pass@k = 1 - C(4 - c, k) / C(4, k) averaged over c = 0, 1, 2, 3.
        #expect(abs(curve.points[0].passAtK - 0.375) < 1e-9)
        #expect(abs(curve.points[1].passAtK - (0 + 0.5 + 5.0 / 6 + 1) / 4) < 1e-9)
        #expect(abs(curve.points[3].passAtK - 0.75) < 1e-9)
        // A vote of all four: 7 wins at 3 and at 2 (a tie goes to the first sample, a 7), loses at 1 and 0.
        #expect(abs(curve.points[3].majorityAtK - 0.5) < 1e-9)
        #expect(abs(curve.points[0].majorityAtK - 0.375) < 1e-9)
        #expect(curve.points.allSatisfy { $0.weightedAtK == nil }, "the samples carried no confidence")
        let verifier = try #require(curve.verifiers.first)
        #expect(verifier.layer == 2 && verifier.kind == "verify")
        #expect(verifier.passed == 16 && verifier.passedRight == 6 && verifier.stopped == 0)
        #expect(verifier.falsePositiveRate == 1 && abs((verifier.precision ?? 0) - 0.375) < 1e-9)
        #expect(outcome.text.contains("coverage of"), "\(outcome.text)")
        #expect(outcome.text.contains("false-positive rate 1.000"))
        #expect(try outcome.json().contains("\"passAtK\""))
        #expect(outcome.html.contains("class=\"coverage\""))
        // A verifier that lets everything through: voting among what it let through is the plain vote, and a
        // wrong sample gets through whenever one is drawn: P = 1 - C(c, k) / C(4, k) for c right of 4.
        #expect(curve.points.map(\.verifiedAtK) == curve.points.map(\.majorityAtK))
        #expect(abs((curve.points[0].wrongLetThroughAtK ?? 0) - 0.625) < 1e-9)
        #expect(curve.points[3].wrongLetThroughAtK == 1)
        #expect(outcome.recommendations.contains("recommended k for"), "\(outcome.recommendations)")
    }

    /// A verifier that stops exactly the wrong samples turns coverage into accuracy: voting among the samples it let
    /// through is right whenever one of the k is, nothing wrong gets through, and what it lets through is always right.
    @Test func aPerfectVerifierTurnsPassAtKIntoAccuracy() async throws {
        let server = try Self.server { $0.contains("The answer is 9.") ? "[Incorrect]" : "[Correct]" }
        let outcome = try await Self.evaluate(on: server, name: "perfect")
        let curve = try #require(outcome.runs[0].coverage)
        for point in curve.points {
            #expect(abs((point.verifiedAtK ?? -1) - point.passAtK) < 1e-9, "k = \(point.k)")
            #expect(point.wrongLetThroughAtK == 0)
            #expect(point.verifiedPrecisionAtK == 1)
        }
        #expect(curve.verifiers.first?.falsePositiveRate == 0)
        #expect(outcome.text.contains("verified@k"), "\(outcome.text)")
        #expect(outcome.html.contains(">verified@k</text>"))
    }
}
