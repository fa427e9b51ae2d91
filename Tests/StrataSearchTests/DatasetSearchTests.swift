import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

/// Searches that really run: HTTP to the in-process test server, real SQLite
/// run, study and cache files.
@Suite struct DatasetSearchTests {
    func space(_ server: ScriptedLLMServer, in directory: URL) throws -> SearchSpace {
        try loadSpace(
            """
            strata-search: 1
            axes:
              samples: [1, 2, 3]
              fuse: [false, true]
            pipeline:
              models:
                m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)", limits: { max_in_flight: 8 } }
              defaults: { max_tokens: 32 }
              layers:
                - ensemble: [{ model: m, samples: $samples }]
                - { $if: not fuse, vote: { extractor: numeric } }
                - { $if: fuse, fuse: [m] }
            """, path: directory.appendingPathComponent("space.yaml").path)
    }

    func evaluator(directory: URL) throws -> DatasetTrialEvaluator {
        let dataset = try DatasetLoader.load(path: packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path)
        let split = DatasetSplit(part: .dev, fraction: 0.2, seed: 0)
        return DatasetTrialEvaluator(
            dev: Array(split.apply(dataset.items).prefix(6)), holdout: Array(DatasetSplit(part: .test, fraction: 0.2, seed: 0).apply(dataset.items).prefix(4)),
            datasetHash: dataset.hash, datasetPath: "gsm", split: "\(split)", scorer: .numeric,
            store: try RunStore(path: directory.appendingPathComponent("runs.sqlite").path),
            options: RuntimeOptions(cache: try ResponseCache(path: directory.appendingPathComponent("cache.sqlite").path)))
    }

    /// Configurations share their samples through the cache; a rerun of the
    /// same search with a larger limit reuses every finished trial.
    @Test func sharedCallsAndResumeFromTheStudyStore() async throws {
        let server = try ScriptedLLMServer { request, _ in .text("The answer is #### \(request.promptText.count % 7)") }
        let directory = try temporaryDirectory()
        let plan = SearchPlan(space: try space(server, in: directory))
        #expect(plan.feasible.count == 6)
        let studyPath = directory.appendingPathComponent("studies.sqlite").path

        let first = try await Search(
            plan: plan, settings: SearchSettings(algorithm: .grid, limits: SearchLimits(trials: 3)),
            evaluator: try evaluator(directory: directory), store: try SQLiteStudyStore(path: studyPath)
        ).run()
        #expect(first.trialsReused == 0)
        #expect(first.issuedCalls == server.requestCount)
        #expect(first.requestedCalls > first.issuedCalls, "samples 1 and 2 are samples 0 and 1 of samples 3")
        let callsAfterFirst = server.requestCount

        let second = try await Search(
            plan: plan, settings: SearchSettings(algorithm: .grid, limits: SearchLimits(trials: 6)),
            evaluator: try evaluator(directory: directory), store: try SQLiteStudyStore(path: studyPath)
        ).run()
        #expect(second.study.id == first.study.id)
        #expect(second.trials.filter { $0.phase == .dev }.count == 6)
        #expect(second.trialsReused >= 3)
        // Finished trials cost nothing again; new ones reuse cached samples.
        let newCalls = server.requestCount - callsAfterFirst
        #expect(newCalls < 6 * 4 * 3)
        #expect(second.issuedCalls == server.requestCount)
        #expect(second.best?.holdout?.outcome?.items == 4)
    }

    @Test func aCallLimitStopsATrialBetweenItems() async throws {
        let server = try ScriptedLLMServer(latency: 0.01) { _, _ in .text("#### 1") }
        let directory = try temporaryDirectory()
        let plan = SearchPlan(space: try space(server, in: directory))
        var evaluator = try evaluator(directory: directory)
        evaluator = DatasetTrialEvaluator(
            dev: evaluator.dev, holdout: evaluator.holdout, datasetHash: evaluator.datasetHash, datasetPath: "gsm",
            split: evaluator.split, scorer: .numeric, store: evaluator.store, options: evaluator.options, concurrency: 1)
        let settings = SearchSettings(algorithm: .grid, limits: SearchLimits(calls: 4))
        let result = try await Search(plan: plan, settings: settings, evaluator: evaluator, store: InMemoryStudyStore()).run()
        #expect(result.stopReason?.contains("call budget") == true)
        // One item at a time: the limit is noticed within an item of being reached.
        #expect(server.requestCount <= 4 + 3)
        #expect(result.issuedCalls == server.requestCount)
    }
}
