import ArgumentParser
import Foundation
import Strata
import StrataPostgres

struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search a space of pipelines for the best one under a compute budget.",
        discussion: """
            Every configuration is checked and compiled first; those over the per-query budget (--budget-*) are never run. \
            Trials go to a SQLite study store: kill the search and rerun the same command to resume it without repeating \
            finished trials or calls. --max-* limit the whole search; when one is reached it stops cleanly with the best so far. \
            The leaders are re-evaluated on the whole search split and scored on the held-out split; the winner is written as \
            a pipeline file.

            With --store postgres://USER@HOST:PORT/DATABASE the same command started on several machines (or several times \
            on one) works on one study: each process claims trials, proposes the next under the study's lock, and takes \
            over the trials of a worker that died; --status shows the workers and the study. The password comes from \
            PGPASSWORD (or --store-password-env), never from the URL.
            """
    )

    @Argument(help: "The search file (strata-search: 1).")
    var space: String

    @Flag(help: "Show the space's size, what is feasible and the projected worst-case calls, and spend nothing.")
    var dryRun = false

    @OptionGroup var data: DatasetOptions

    @Option(help: "The search split, as dev:FRACTION (the rest is held out).")
    var split = "dev:0.2"

    @Option(help: "The split's seed.")
    var splitSeed = 0

    @Option(help: "Use at most this many search-split items.")
    var devLimit: Int?

    @Option(help: "Use at most this many held-out items (0: no held-out scoring).")
    var holdoutLimit: Int?

    @Option(help: "random, grid, greedy or tpe.")
    var algorithm: SearchAlgorithm = .tpe

    @Option(help: "The search's seed (proposals are reproducible).")
    var seed: UInt64 = 0

    @Option(help: "full, halving (successive halving over items) or hyperband.")
    var fidelity: FidelityKind = .full

    @Option(help: "Halving rate for halving and hyperband.")
    var eta = 3

    @Option(help: "Items of the first rung for halving and hyperband.")
    var minItems: Int?

    @Option(help: "score, penalized (score − λ·cost) or pareto.")
    var objective: ObjectiveKind = .score

    @Option(help: "λ for --objective penalized.")
    var lambda = 0.01

    @Option(help: "The cost for penalized and pareto: calls or usd (static worst case per query).")
    var cost: CostMeasure = .calls

    @Option(help: "Per query: at most this many model calls (static worst case).")
    var budgetCalls: Int?
    @Option(help: "Per query: at most this many USD.")
    var budgetUsd: Double?
    @Option(help: "Per query: at most this many seconds of estimated latency.")
    var budgetLatency: Double?
    @Option(help: "Per query: at most this many input tokens.")
    var budgetInputTokens: Int?
    @Option(help: "Per query: at most this many output tokens.")
    var budgetOutputTokens: Int?

    @Option(help: "The whole search: at most this many model calls sent (cache hits are free).")
    var maxCalls: Int?
    @Option(help: "The whole search: at most this many USD.")
    var maxUsd: Double?
    @Option(help: "The whole search: at most this many seconds.")
    var maxTime: Double?
    @Option(help: "The whole search: at most this many configurations tried.")
    var trials: Int?

    @Option(help: "How many leaders are re-evaluated on the whole search split and held out.")
    var leaders = 3

    @Option(help: "A pipeline to score on the held-out split next to the winner (default: the space's cheapest configuration).")
    var baseline: String?

    @Option(help: "The study store: a SQLite file, or postgres://USER@HOST:PORT/DATABASE shared by workers (run stores go there too).")
    var store = ".strata/studies.sqlite"

    @Option(help: "The run store's SQLite file (per-item results), when the study store is a file.")
    var runStore = ".strata/runs.sqlite"

    @Flag(help: "With a PostgreSQL store: show the study (or every study, without --dataset) and its workers, and spend nothing.")
    var status = false

    @OptionGroup var worker: SharedStoreOptions

    @OptionGroup var telemetry: TelemetryOptions
    @OptionGroup var cacheOptions: CacheOptions
    @OptionGroup var includes: IncludeOptions

    @Option(help: "Items in flight at once within a trial.")
    var concurrency = 8

    @Option(name: [.short, .customLong("output")], help: "Where to write the best pipeline (default: NAME.best.yaml).")
    var output: String?

    @Option(help: "Also write one self-contained HTML page: leaderboard, score-vs-cost plot with the Pareto front, the best pipeline's graph.")
    var report: String?

    @Option(help: "Output: text or json.")
    var format: DiagnosticFormat = .text

    func settings() throws -> SearchSettings {
        guard eta >= 2 else { throw ValidationError("--eta must be at least 2") }
        return SearchSettings(
            algorithm: algorithm, seed: seed, fidelity: fidelity.fidelity(eta: eta, minItems: minItems ?? 0),
            objective: objective.objective(lambda: lambda, cost: cost),
            limits: SearchLimits(calls: maxCalls, usd: maxUsd, seconds: maxTime, trials: trials), leaders: leaders)
    }

    func run() async throws {
        let plan = try searchPlan()
        let searchData = try self.searchData()
        let settings = try settings().resolvingMinItems(devItems: searchData.dev.count)
        if dryRun, !status {
            let text = SearchText.dryRun(
                plan: plan, settings: settings, devItems: searchData.dev.count, holdoutItems: searchData.holdout.count, dataset: data.dataset)
            return print(text)
        }
        let location = { try StoreLocation(studyStore: store, runStore: runStore, passwordVariable: worker.storePasswordEnv) }
        if status, case .files = try? location() { throw ValidationError("--status reads a shared study: give --store postgres://…") }
        let stores = try await worker.open(location)
        defer { stores.close() }
        if status { return try await printStatus(stores, plan: plan, settings: settings, data: searchData) }
        guard let dataset = searchData.dataset else { throw ValidationError("a search needs --dataset (or --dry-run)") }
        guard !searchData.dev.isEmpty else { throw ValidationError("the search split of \(dataset.path) is empty; raise the dev fraction of --split") }
        var job = try searchJob(plan: plan, settings: settings, data: searchData, stores: stores)
        let where_ = stores.database.map { "\($0.location) as worker \(stores.worker.id)" } ?? store
        writeError("\(plan.space.name): \(plan.feasible.count) of \(plan.size) configurations feasible; study \(job.search.study.id) in \(where_)")
        let progress = SearchProgress(feasible: plan.feasible.count, limits: settings.limits)
        try await telemetry.exporting { telemetry in
            job.observer = telemetry?.observer
            let result = try await job.run { trial, reused in progress.trial(trial, reused: reused) }
            try await report(result, of: job, dataset: dataset.path)
        }
    }

    /// The search and held-out splits of `--dataset` (none for a dry run without it).
    func searchData() throws -> SearchData {
        guard let splitValue = DatasetSplit(split, seed: splitSeed), splitValue.part == .dev else {
            throw ValidationError("--split takes dev:FRACTION, e.g. dev:0.2")
        }
        let dataset = data.dataset == nil ? nil : try data.load()
        return SearchData(
            dataset: dataset, split: splitValue, scorer: try dataset.map { try data.plainScorer(for: $0) } ?? .normalized,
            devLimit: devLimit, holdoutLimit: holdoutLimit)
    }

    func searchJob(plan: SearchPlan, settings: SearchSettings, data: SearchData, stores: Stores) throws -> SearchJob {
        // A search's store location always names a study store (`StoreLocation(studyStore:runStore:)`).
        guard let studies = stores.studies else { throw ValidationError("--store: no study store") }
        var job = SearchJob(
            plan: plan, settings: settings, data: data, runStore: stores.runs, studyStore: studies,
            cache: try cacheOptions.open(sharing: stores.database), concurrency: concurrency,
            baseline: try baseline.map { try EvalCommand.compiled($0, as: "usable as a baseline", compiler: includes.compiler) })
        job.worker = stores.worker
        return job
    }

    /// The baseline held out, the best pipeline's file, the summary and the HTML report.
    func report(_ result: SearchResult, of job: SearchJob, dataset: String) async throws {
        let baselineRun = try await job.baselineOutcome(after: result)
        let outputPath = output ?? "\(job.plan.space.name).best.yaml"
        if let best = result.best,
            let text = job.bestPipeline(
                result, outputPath: outputPath, header: SearchText.bestHeader(result: result, best: best, space: space, dataset: dataset))
        {
            try OutputFile.write(text, to: outputPath)
        }
        let summaryValue = SearchSummary(
            result: result, baseline: baselineRun?.label ?? baseline, baselineOutcome: baselineRun?.outcome,
            bestPath: result.best == nil ? nil : outputPath, dataset: dataset, devItems: job.data.dev.count, holdoutItems: job.data.holdout.count)
        if let report {
            let html = SearchReport.render(summary: summaryValue, result: result, title: "Strata search: \(job.plan.space.name)")
            try OutputFile.write(html, to: report)
            writeError("report written to \(report)")
        }
        print(format == .json ? try summaryValue.json() : SearchText.result(summaryValue))
    }

    /// The study this command would work on, or every study of the store when there is no dataset to identify it.
    func printStatus(_ stores: Stores, plan: SearchPlan, settings: SearchSettings, data: SearchData) async throws {
        guard let shared = stores.sharedStudies, let database = stores.database else { return }
        var ids: [String]
        if data.dataset != nil {
            let job = SearchJob(plan: plan, settings: settings, data: data, runStore: stores.runs, studyStore: shared)
            ids = [job.search.study.id]
        } else {
            ids = try await shared.studies()
        }
        var statuses: [SharedStudyStatus] = []
        for id in ids { if let status = try await shared.status(study: id) { statuses.append(status) } }
        if format == .json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            print(String(decoding: try encoder.encode(statuses), as: UTF8.self))
        } else if statuses.isEmpty {
            print("no study \(ids.first.map { "\($0) " } ?? "")in \(database.location) yet")
        } else {
            print(statuses.map(SearchText.status).joined(separator: "\n\n"))
        }
    }

    /// The space read and every configuration checked, or the command stops with the diagnostics.
    func searchPlan() throws -> SearchPlan {
        let loaded = SearchSpaceLoader.load(path: space)
        printDiagnostics(loaded.diagnostics, sources: loaded.sources, format: .text)
        guard var searchSpace = loaded.space else {
            writeError("\(space): not searched (\(summary(of: loaded.diagnostics)))")
            throw ExitCode(1)
        }
        searchSpace.includeRoots = includes.loader.includeRoots
        let budget = QueryBudget(
            calls: budgetCalls, usd: budgetUsd, latencySeconds: budgetLatency, inputTokens: budgetInputTokens,
            outputTokens: budgetOutputTokens)
        let plan = SearchPlan(space: searchSpace, budget: budget)
        if let empty = plan.emptinessDiagnostic {
            var sources = loaded.sources
            for reason in plan.infeasibleReasons { for file in reason.example.sources.all { sources.add(file) } }
            printDiagnostics(
                [empty] + plan.infeasibleReasons.prefix(3).compactMap { $0.example.diagnostics.first { $0.severity == .error } },
                sources: sources, format: .text)
            throw ExitCode(1)
        }
        return plan
    }
}

extension SearchAlgorithm: ExpressibleByArgument {}

/// `--fidelity`: how many items a trial scores.
enum FidelityKind: String, ExpressibleByArgument, CaseIterable {
    case full, halving, hyperband

    func fidelity(eta: Int, minItems: Int) -> Fidelity {
        switch self {
        case .full: .full
        case .halving: .halving(eta: eta, minItems: minItems)
        case .hyperband: .hyperband(eta: eta, minItems: minItems)
        }
    }
}

/// `--objective`: what the search maximises.
enum ObjectiveKind: String, ExpressibleByArgument, CaseIterable {
    case score, penalized, pareto

    func objective(lambda: Double, cost: CostMeasure) -> Objective {
        switch self {
        case .score: .score
        case .penalized: .penalized(lambda: lambda, cost: cost)
        case .pareto: .pareto(cost: cost)
        }
    }
}
extension CostMeasure: ExpressibleByArgument {}
