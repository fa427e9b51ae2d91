import Foundation
import Strata
import StrataTestSupport
import Testing

/// A unit-test pipeline on the real local model, scored on HumanEval problems
/// from the fixtures: choosing among samples by the tests the model writes
/// must never score below the pipeline's own first sample — a test reply
/// that is hard to read degrades to the first candidates, never to a failed item.
@Suite(.enabled(if: LiveServer.isUp, "the local model server is down: start it with `scripts/local-llm start`"), .serialized)
struct LiveUnitTestTests {
    static let problems = 12

    @Test func samplesThenModelWrittenTestsScoreAtLeastTheFirstSample() async throws {
        let dataset = try DatasetLoader.load(path: packageRoot.appendingPathComponent("Tests/Fixtures/HumanEval-first40.jsonl").path)
        let items = Array(dataset.items.prefix(Self.problems))
        let scorer = Scorer.default(for: dataset)
        // One cache for both: the one-call pipeline's reply is the ensemble's first sample, answered from it.
        let cache = try ResponseCache(path: temporaryPath("cache.sqlite"))
        let unitTest = try LiveServer.runtime(
            try LiveServer.pipeline(
                """
                  - ensemble: [{ model: live, samples: 3 }]
                  - unit-test: { model: live, mode: execute, tests: 5, top_k: 1, on_empty: keep-all, timeout_s: 5, temperature: 0.2 }
                """, maxTokens: 320), cache: cache)
        let firstSample = try LiveServer.runtime(try LiveServer.pipeline("  - ensemble: [{ model: live, samples: 1 }]\n", maxTokens: 320), cache: cache)

        let chosen = await Self.score(items, unitTest, scorer)
        let first = await Self.score(items, firstSample, scorer)
        try await unitTest.shutdown()
        try await firstSample.shutdown()

        #expect(chosen.failures.isEmpty, "items failed: \(chosen.failures)")
        #expect(first.calls == 0, "the first sample comes from the unit-test run's cache")
        #expect(chosen.score >= first.score, "unit-test pipeline \(chosen.score) of \(items.count), its first sample alone \(first.score)")
        // Tests were read and run on most problems, not only the fallback taken.
        #expect(chosen.executed * 2 >= items.count, "tests executed on \(chosen.executed) of \(items.count) problems; \(chosen.untested)")
    }

    /// Runs the items four at a time (the model's slots: more would only queue calls
    /// behind each other's timeouts) and scores the answers.
    static func score(
        _ items: [DatasetItem], _ runtime: PipelineRuntime, _ scorer: Scorer
    ) async -> (
        score: Double, failures: [String], executed: Int, calls: Int, untested: [String]
    ) {
        await withTaskGroup(of: (id: String, score: Double, failure: String?, notes: [String], calls: Int).self) { group in
            var total = (score: 0.0, failures: [String](), executed: 0, calls: 0, untested: [String]())
            var pending = items[...]
            func start(_ item: DatasetItem) {
                group.addTask {
                    let result = await runtime.run(item.query, id: item.id)
                    let notes = result.layers.last?.notes ?? []
                    guard let answer = result.answer else { return (item.id, 0, result.failure ?? "no answer", notes, result.usage.calls) }
                    return (item.id, await scorer.score(answer: answer, item: item).score, nil, notes, result.usage.calls)
                }
            }
            for _ in 0..<4 { if let item = pending.popFirst() { start(item) } }
            for await finished in group {
                if let item = pending.popFirst() { start(item) }
                total.score += finished.score
                total.calls += finished.calls
                if let failure = finished.failure { total.failures.append("\(finished.id): \(failure)") }
                if finished.notes.contains(where: { $0.contains("executed tests") }) {
                    total.executed += 1
                } else {
                    total.untested.append("\(finished.id): \(finished.notes.joined(separator: "; "))")
                }
            }
            return total
        }
    }
}
