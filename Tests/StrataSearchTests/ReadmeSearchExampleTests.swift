import Foundation
import Strata
import StrataTestSupport
import Testing

// Library.md search example begin
/// Scores a configuration by any measure you like: here, fewer calls per query is better.
struct CheapestWins: TrialEvaluator {
    var dataIdentity: String { "cheapest-wins v1" }
    var devItems: Int { 1 }
    var holdoutItems: Int { 0 }

    func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, items: Int, meter: SpendMeter) async throws -> TrialOutcome {
        TrialOutcome(score: 1 / Double(pipeline.cost?.total.calls ?? 1), items: items)
    }
}

/// Searches the space in `path` with TPE and prints each trial as it finishes.
func searchCheapest(path: String) async throws -> Configuration? {
    let loaded = SearchSpaceLoader.load(path: path)
    guard let space = loaded.space else {
        print(DiagnosticRenderer(sources: loaded.sources).render(loaded.diagnostics))
        return nil
    }
    let plan = SearchPlan(space: space, budget: QueryBudget(calls: 10))
    let settings = SearchSettings(algorithm: .tpe, seed: 7, limits: SearchLimits(trials: 12))
    let search = Search(plan: plan, settings: settings, evaluator: CheapestWins(), store: InMemoryStudyStore())
    let result = try await search.run { trial, _ in
        print(trial.configuration, trial.outcome?.score ?? 0)
    }
    return result.best?.configuration
}
// Library.md search example end

@Suite struct ReadmeSearchExampleTests {
    @Test func readmeShowsTheCompiledSearchExample() throws {
        let article = try String(contentsOf: packageRoot.appendingPathComponent("Sources/Strata/Strata.docc/Library.md"), encoding: .utf8)
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let begin = try #require(source.range(of: "// Library.md search example begin\n"))
        let end = try #require(source.range(of: "// Library.md search example end"))
        #expect(
            article.contains("```swift\nimport Strata\n\n" + String(source[begin.upperBound..<end.lowerBound]) + "```"),
            "Library.md's search example differs from ReadmeSearchExampleTests.swift")
    }

    @Test func theSearchExampleFindsTheCheapestConfiguration() async throws {
        let best = try await searchCheapest(path: packageRoot.appendingPathComponent("Pipelines/searches/local-gsm.yaml").path)
        // Both one-call configurations (no narrowing, or a vote over one sample) tie.
        #expect(best?["samples"] == .int(1))
        #expect(best?["fuse"] == .bool(false))
    }
}
