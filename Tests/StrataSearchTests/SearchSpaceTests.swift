import Foundation
import Strata
import StrataTestSupport
import Testing

/// Compiling the paper's 2,400 configurations takes seconds in a debug build:
/// done on a Dispatch worker so it never starves Swift's cooperative pool,
/// where other suites' timing-sensitive tests wait.
func planOffPool(_ space: SearchSpace, budget: QueryBudget = QueryBudget()) async -> SearchPlan {
    await offPool { SearchPlan(space: space, budget: budget) }
}

/// The paper's space, compiled once for every test that needs it.
enum PaperSpace {
    static let path = packageRoot.appendingPathComponent("Pipelines/searches/archon-paper-space.yaml").path
    static let planTask = Task { await planOffPool(SearchSpaceLoader.load(path: path).space!) }
}

func loadSpace(_ text: String, path: String = "space.yaml") throws -> SearchSpace {
    let loaded = SearchSpaceLoader.load(text: text, path: path)
    return try #require(loaded.space, "\(DiagnosticRenderer(sources: loaded.sources).render(loaded.diagnostics))")
}

@Suite struct SearchSpaceTests {
    @Test func thePapersSpaceHasItsSizeAndABudgetFilter() async throws {
        let loaded = SearchSpaceLoader.load(path: packageRoot.appendingPathComponent("Pipelines/searches/archon-paper-space.yaml").path)
        #expect(loaded.diagnostics.isEmpty)
        let space = try #require(loaded.space)
        // 5 generator lists × 5 samples × (1 + 3 rounds × 5 fuser counts) × 2 × 3: fusers only exists with several rounds.
        #expect(space.size == 5 * 5 * (1 + 3 * 5) * 2 * 3)
        let plan = await PaperSpace.planTask.value
        #expect(plan.feasible.count >= 1_000)
        #expect(plan.feasible.allSatisfy { ($0.cost?.total.calls ?? .max) <= 30 })
        #expect(plan.infeasibleReasons.contains { $0.code == .budgetExceeded })
        // (A caller's tighter per-query budget is tested on a small space in SpaceInCodeTests.)
        #expect(plan.feasible.contains { ($0.cost?.total.calls ?? 0) > 10 })
    }

    @Test func expressionsReadAxesAndLoopVariables() throws {
        let space = try loadSpace(
            """
            strata-search: 1
            axes:
              models: { top: [a, b, c], k: [1, 3] }
              rounds: { range: [1, 3] }
              wide: { values: [2, 4], when: rounds > 1 and not (rounds == 3) }
            pipeline:
              models:
                a: { provider: openai-compatible, model: a, base_url: "http://127.0.0.1:9/v1" }
                b: { provider: openai-compatible, model: b, base_url: "http://127.0.0.1:9/v1" }
                c: { provider: openai-compatible, model: c, base_url: "http://127.0.0.1:9/v1" }
              layers:
                - ensemble:
                    - { $each: $models, $as: name, model: $name, samples: "${max(1, 3 - rounds)}" }
                - $each: $rounds
                  $as: round
                  $splice:
                    - { $if: round < rounds, fuse: [{ model: a, samples: "${min(wide, 3)}" }] }
                    - { $if: round == rounds, fuse: [a] }
            """)
        // rounds 1 and 3 leave `wide` inactive; rounds 2 has two values: 2 × (1 + 2 + 1).
        #expect(space.size == 8)
        let compiler = ConfigurationCompiler(space: space)
        let configuration = Configuration(["models": .list(["a", "b", "c"]), "rounds": .int(2), "wide": .int(4)])
        let configured = compiler.compile(configuration)
        #expect(configured.isFeasible, "\(configured.diagnostics)")
        let pipeline = try #require(configured.pipeline)
        #expect(pipeline.layers.map(\.kind) == [.ensemble, .fuse, .fuse])
        #expect(pipeline.layers[0].entries.map(\.samples) == [1, 1, 1])
        #expect(pipeline.layers[1].entries.map(\.samples) == [3])
        #expect(configured.cost?.total.calls == 3 + 3 + 1)
        let moved = space.moving(configuration, axis: "rounds", to: .int(3))
        #expect(moved.values["wide"] == nil)
        #expect(space.moving(moved, axis: "rounds", to: .int(2)).values["wide"] == .int(2))
    }

    /// The winner is written as a pipeline `strata check` accepts, with includes still resolving.
    @Test func aConfigurationIsWrittenAsAValidPipeline() async throws {
        let path = packageRoot.appendingPathComponent("Pipelines/searches/archon-paper-space.yaml").path
        let plan = await PaperSpace.planTask.value
        let directory = try temporaryDirectory("strata-writer")
        for configured in [plan.cheapest, plan.mostExpensive, plan.feasible[plan.feasible.count / 2]].compactMap({ $0 }) {
            let output = directory.appendingPathComponent("best.yaml").path
            let text = PipelineWriter.render(
                try #require(configured.tree), templatePath: path, outputPath: output,
                header: ["Found by a test.", "", "configuration: \(configured.configuration.key)"])
            try text.write(toFile: output, atomically: true, encoding: .utf8)
            let result = PipelineCompiler().compile(path: output)
            #expect(!result.hasErrors, "\(text)\n\(DiagnosticRenderer(sources: result.sources).render(result.diagnostics))")
            #expect(result.compiled?.cost.total == configured.cost?.total)
            #expect(text.hasPrefix("# Found by a test.\n#\n# configuration: "))
        }
    }
}

@Suite struct SamplerTests {
    static var planTask: Task<SearchPlan, Never> { PaperSpace.planTask }

    /// Scores from a fixed function of the configuration, recording what was asked.
    final class RecordingEvaluator: TrialEvaluator, @unchecked Sendable {
        let lock = NSLock()
        var asked: [String] = []
        var dataIdentity: String { "recording" }
        var devItems: Int { 9 }
        var holdoutItems: Int { 4 }

        func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, items: Int, meter: SpendMeter) async throws -> TrialOutcome {
            lock.withLock { asked.append("\(phase.rawValue) \(items) \(pipeline.configuration.key)") }
            #expect(pipeline.isFeasible)
            let samples = pipeline.configuration["samples"]?.description ?? "0"
            let score = Double(Int(samples) ?? 0) / 5 + (pipeline.configuration["critique"] == .bool(true) ? 0.1 : 0)
            return TrialOutcome(score: score, items: items, requestedCalls: items * 3, issuedCalls: items)
        }
    }

    @Test(arguments: SearchAlgorithm.allCases)
    func proposalsAreFeasibleDistinctAndReproducible(_ algorithm: SearchAlgorithm) async throws {
        func run() async throws -> [String] {
            let evaluator = RecordingEvaluator()
            let search = Search(
                plan: await Self.planTask.value, settings: SearchSettings(algorithm: algorithm, seed: 42, limits: SearchLimits(trials: 25)),
                evaluator: evaluator, store: InMemoryStudyStore())
            let result = try await search.run()
            #expect(result.leaders.count == 3)
            #expect(result.best?.holdout?.outcome?.items == 4)
            return evaluator.asked
        }
        let first = try await run()
        let exploration = first.filter { $0.hasPrefix("dev 9 ") }
        #expect(exploration.count == 25)
        #expect(Set(exploration).count == 25)
        #expect(first.filter { $0.hasPrefix("holdout 4 ") }.count == 3)
        #expect(try await run() == first)
    }

    @Test func tpeFindsBetterConfigurationsThanItsRandomStart() async throws {
        let evaluator = RecordingEvaluator()
        let search = Search(
            plan: await Self.planTask.value, settings: SearchSettings(algorithm: .tpe, seed: 3, limits: SearchLimits(trials: 40)),
            evaluator: evaluator, store: InMemoryStudyStore())
        let result = try await search.run()
        // The objective peaks at 5 samples with critique.
        #expect(result.best?.dev.outcome?.score == 1.1)
    }

    @Test func successiveHalvingPromotesTheBestToMoreItems() async throws {
        let evaluator = RecordingEvaluator()
        let settings = SearchSettings(algorithm: .random, seed: 1, fidelity: .halving(eta: 3, minItems: 1), limits: SearchLimits(trials: 9))
        let result = try await Search(plan: await Self.planTask.value, settings: settings, evaluator: evaluator, store: InMemoryStudyStore()).run()
        let dev = evaluator.asked.filter { $0.hasPrefix("dev") }
        #expect(dev.filter { $0.hasPrefix("dev 1 ") }.count == 9)
        // Asynchronous halving (one worker or many): a configuration goes up as soon as it is in the top third of
        // those finished on its rung, so at least a third of the nine reach 3 items, and one of those reaches 9.
        #expect((3...5).contains(dev.filter { $0.hasPrefix("dev 3 ") }.count))
        let trials = result.trials.filter { $0.phase == .dev }
        for promoted in trials where promoted.fidelity == 3 {
            let before = trials.filter { $0.fidelity == 1 && $0.number < promoted.number }
            let top = (1...before.count).contains { finished in
                before.prefix(finished).sorted { ($0.objective ?? 0) > ($1.objective ?? 0) }.prefix(finished / 3).contains {
                    $0.configuration == promoted.configuration
                }
            }
            #expect(top, "\(promoted.configuration.key) reached 3 items without being in the top third on 1")
        }
        #expect(dev.filter { $0.hasPrefix("dev 9 ") }.count == 3, "the leaders are scored on the whole split, one of them promoted there")
        #expect(result.leaders.allSatisfy { $0.dev.fidelity == 9 })
        #expect(result.requestedCalls == result.trials.compactMap(\.outcome).reduce(0) { $0 + $1.requestedCalls })
        #expect(result.requestedCalls == 3 * evaluator.asked.map { Int($0.split(separator: " ")[1])! }.reduce(0, +))
    }

    @Test func aSearchLimitStopsCleanlyWithTheBestSoFar() async throws {
        let evaluator = RecordingEvaluator()
        // Each trial sends 9 calls: the third trial crosses 20 and nothing starts after it.
        let settings = SearchSettings(algorithm: .random, seed: 5, limits: SearchLimits(calls: 20))
        let result = try await Search(plan: await Self.planTask.value, settings: settings, evaluator: evaluator, store: InMemoryStudyStore()).run()
        #expect(result.stopReason?.contains("call budget") == true)
        #expect(evaluator.asked.count == 3)
        #expect(result.best != nil)
        #expect(result.best?.holdout == nil)
    }

    @Test func penalizedObjectivePrefersTheCheaperOfEqualScores() async throws {
        let evaluator = RecordingEvaluator()
        let settings = SearchSettings(algorithm: .grid, objective: .penalized(lambda: 0.001, cost: .calls), limits: SearchLimits(trials: 400))
        let result = try await Search(plan: await Self.planTask.value, settings: settings, evaluator: evaluator, store: InMemoryStudyStore()).run()
        let best = try #require(result.best)
        let sameScore = result.leaderboard.filter { $0.dev.outcome?.score == best.dev.outcome?.score }
        #expect(sameScore.allSatisfy { $0.dev.staticCalls >= best.dev.staticCalls })
        #expect(result.leaderboard.contains { $0.onParetoFront })
    }
}

@Suite struct DecimalAxisTests {
    @Test func decimalsGoIntoTheTemplateAsNumbers() throws {
        let loaded = SearchSpaceLoader.load(
            text: """
                strata-search: 1
                name: decimals
                axes:
                  temperature: [0.2, 0.7]
                  stop: [none, unbeatable, 0.95]
                pipeline:
                  models:
                    m: { provider: openai-compatible, model: q, base_url: "http://127.0.0.1:9/v1" }
                  layers:
                    - ensemble: [{ model: m, samples: 5, temperature: $temperature }]
                    - $if: stop == 'none'
                      vote: { extractor: numeric }
                    - $if: stop != 'none'
                      vote: { extractor: numeric, early_stop: $stop }
                    - fuse: [m]
                """, path: "decimals.yaml")
        let space = try #require(loaded.space, "\(loaded.diagnostics)")
        let plan = SearchPlan(space: space)
        #expect(plan.size == 6)
        #expect(plan.feasible.count == 6, "\(plan.infeasibleReasons.map(\.message))")
        let temperatures = Set(plan.feasible.compactMap { $0.pipeline?.layers[0].entries[0].sampling.temperature })
        #expect(temperatures == [0.2, 0.7])
        let stops = Set(plan.feasible.map { $0.pipeline?.layers[1].earlyStop?.description ?? "none" })
        #expect(stops == ["none", "unbeatable", "confidence 0.95"])
    }
}

@Suite struct SpaceInCodeTests {
    @Test func aSpaceDefinedInCodeIsCheckedLikeAFile() throws {
        let axes = [
            Axis(name: "models", domain: .topK(models: ["a", "b"], k: [1, 2])),
            Axis(name: "samples", domain: .integers(1...5, step: 2)),
            Axis(name: "fuse", domain: .choice([.bool(false), .bool(true)])),
            Axis(name: "fusers", domain: .integers(1...2, step: 1), when: "fuse and samples > 1"),
        ]
        let pipeline = """
            models:
              a: { provider: openai-compatible, model: a, base_url: "http://127.0.0.1:9/v1" }
              b: { provider: openai-compatible, model: b, base_url: "http://127.0.0.1:9/v1" }
            layers:
              - ensemble: [{ $each: $models, model: $it, samples: $samples }]
              - { $if: fuse, fuse: [{ model: a, samples: "${max(1, fusers)}" }] }
              - { $if: fusers == 2, fuse: [a] }
            """
        let loaded = SearchSpaceLoader.load(name: "in-code", axes: axes, pipeline: pipeline, budget: QueryBudget(calls: 8))
        let space = try #require(loaded.space, "\(DiagnosticRenderer(sources: loaded.sources).render(loaded.diagnostics))")
        // 2 model lists × (samples 1: 2 fuse settings; samples 3 and 5: no fuse, or fuse with 1 or 2 fusers).
        #expect(space.size == 2 * (2 + 2 * 3))
        let plan = SearchPlan(space: space)
        #expect(plan.feasible.allSatisfy { ($0.cost?.total.calls ?? 99) <= 8 })
        #expect(plan.feasible.count < space.size)
        let broken = SearchSpaceLoader.load(name: "broken", axes: [Axis(name: "x", domain: .choice([.int(1)]), when: "y > 1")], pipeline: "layers: []")
        #expect(broken.diagnostics.contains { $0.code == .unknownAxis })
    }
}

@Suite struct FidelityTests {
    @Test func rungsDivideTheSplitByEta() {
        #expect(Fidelity.halving(eta: 3, minItems: 3).rungs(total: 30) == [3, 10, 30])
        #expect(Fidelity.halving(eta: 3, minItems: 1).rungs(total: 9) == [1, 3, 9])
        #expect(Fidelity.hyperband(eta: 2, minItems: 5).rungs(total: 40) == [5, 10, 20, 40])
        #expect(Fidelity.halving(eta: 3, minItems: 50).rungs(total: 30) == [30])
        #expect(Fidelity.full.rungs(total: 7) == [7])
    }
}

/// A choice axis can pick among sets of approaches: the ensemble entries' own prompts.
@Suite struct ApproachSetTests {
    @Test func eachChoiceIsASetOfSystemPromptsWithTheSameSampleCount() async throws {
        let loaded = SearchSpaceLoader.load(path: packageRoot.appendingPathComponent("Pipelines/searches/local-approaches.yaml").path)
        let space = try #require(loaded.space)
        let plan = await planOffPool(space)
        #expect(plan.feasible.count == 6)
        for configured in plan.feasible {
            let ensemble = try #require(configured.pipeline?.layers.first)
            let prompts = Set(ensemble.entries.compactMap(\.prompt))
            let expected = ["plain": 0, "two": 2, "three": 3][configured.configuration["approaches"]?.description ?? ""]
            #expect(prompts.count == expected, "\(configured.configuration)")
            let samples = Int(configured.configuration["samples"]?.description ?? "") ?? 0
            #expect(ensemble.entries.reduce(0) { $0 + $1.samples } == 3 * samples, "\(configured.configuration)")
        }
    }
}
