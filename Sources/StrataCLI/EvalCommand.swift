import ArgumentParser
import Foundation
import Strata
import StrataPostgres

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a pipeline on a dataset.",
        discussion: """
            Results go to a SQLite run store: a killed eval resumes, a finished one is a cache hit. \
            With --store postgres://USER@HOST:PORT/DATABASE the same command started on several machines splits the items \
            among them (ranges of --unit-items, leased and taken over when a worker dies); each prints the whole run. \
            Formats: humaneval (also .jsonl.gz), gsm8k, reasoning-gym, mtbench, jsonl (use --field to map fields). \
            Scorers: exact, normalized, numeric, regex:PATTERN, contains, code (default by format).
            """
    )

    @Argument(help: "The pipeline file.")
    var pipeline: String

    @OptionGroup var data: DatasetOptions

    @Option(help: "Evaluate a deterministic split, e.g. dev:0.2 or test:0.2 (the fraction is the dev share).")
    var split: String?

    @Option(help: "The split's seed.")
    var seed: Int = 0

    @Option(help: "Evaluate at most this many items (after the split).")
    var limit: Int?

    @Option(help: "Evaluate only these item ids (comma-separated).")
    var items: String?

    @Option(help: "The run store: a SQLite file, or postgres://USER@HOST:PORT/DATABASE shared by workers.")
    var store = ".strata/runs.sqlite"

    @OptionGroup var worker: SharedStoreOptions

    @OptionGroup var telemetry: TelemetryOptions
    @OptionGroup var cacheOptions: CacheOptions
    @OptionGroup var includes: IncludeOptions

    @Option(help: "Items in flight at once.")
    var concurrency: Int = 8

    @Option(help: "Another pipeline to run on the same items, compared with a paired test.")
    var compare: String?

    @Option(help: "Output: text or json.")
    var format: DiagnosticFormat = .text

    @Option(help: "The judge pipeline for --scorer judge or pairwise (its answer is the judgement).")
    var judge: String?

    @Option(help: "A file holding the judge's prompt ({question}, {answer}, {reference}; pairwise: {answer_a}, {answer_b}).")
    var judgePrompt: String?

    @Option(help: "The baseline pipeline for --scorer pairwise.")
    var baseline: String?

    @Option(help: "Also write one self-contained HTML page: summary, score-vs-cost plot, per-item drill-down.")
    var report: String?

    @Flag(help: "End with the number of samples the vote is worth, judged from this run's samples (a pilot: use --limit).")
    var recommendK = false

    func validate() throws {
        if data.dataset == nil { throw ValidationError("Missing expected argument '--dataset <dataset>'") }
        // Said before any store is opened or call made.
        if data.scorer == "judge" || data.scorer == "pairwise", judge == nil {
            throw ValidationError("--scorer \(data.scorer ?? "") needs --judge JUDGE_PIPELINE")
        }
        if data.scorer == "pairwise", baseline == nil { throw ValidationError("--scorer pairwise needs --baseline PIPELINE") }
    }

    func run() async throws {
        let dataset = try data.load()
        let pipelines = try ([pipeline] + (compare.map { [$0] } ?? [])).map { try compiled($0, as: "evaluated") }
        let stores = try await worker.open { try StoreLocation(runStore: store, passwordVariable: worker.storePasswordEnv) }
        defer { stores.close() }
        // One cache, the shared level included, for the evaluated pipelines and the judge and baseline alike.
        let cache = try cacheOptions.open(sharing: stores.database)
        let scoring = try scorer(for: dataset, cache: cache)
        var job = EvalJob(
            pipelines: pipelines, dataset: dataset, selection: try selection(), scorer: scoring.scorer,
            store: stores.runs, cache: cache, concurrency: concurrency)
        job.shared = stores.sharedItems
        let progress = ProgressReporter(total: job.items.count)
        let outcome = try await telemetry.exporting { telemetry in
            job.observer = telemetry?.observer
            return try await job.run(onStart: { progress.start($0.name) }, onItem: progress.finished, onEnd: { _ in progress.close() })
        }
        for helper in scoring.helpers { try await helper.shutdown() }
        if let report {
            try OutputFile.write(outcome.html, to: report)
            writeError("report written to \(report)")
        }
        print(format == .json ? try outcome.json() : outcome.text + (recommendK ? outcome.recommendations : ""))
    }

    func selection() throws -> ItemSelection {
        var selection = ItemSelection(limit: limit)
        if let split {
            guard let parsed = DatasetSplit(split, seed: seed) else { throw ValidationError("--split takes dev:FRACTION or test:FRACTION") }
            selection.split = parsed
        }
        if let items { selection.ids = Set(items.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
        return selection
    }

    /// The scorer, and the runtimes a judge (and a pairwise baseline) run on, to shut down afterwards.
    func scorer(for dataset: LoadedDataset, cache: ResponseCache) throws -> (scorer: Scorer, helpers: [PipelineRuntime]) {
        guard let scorer = data.scorer, scorer == "judge" || scorer == "pairwise" else { return (try data.plainScorer(for: dataset), []) }
        guard let judge else { throw ValidationError("--scorer \(scorer) needs --judge JUDGE_PIPELINE") }
        let prompt = try judgePrompt.map { try String(contentsOfFile: $0, encoding: .utf8) }
        let judgeRuntime = try runtime(for: judge, cache: cache)
        let judgeConfig = Judge(runtime: judgeRuntime, prompt: prompt, name: (judge as NSString).lastPathComponent)
        if scorer == "judge" { return (.judge(judgeConfig), [judgeRuntime]) }
        guard let baseline else { throw ValidationError("--scorer pairwise needs --baseline PIPELINE") }
        let baselineRuntime = try runtime(for: baseline, cache: cache)
        return (.pairwise(judgeConfig, baseline: baselineRuntime, baselineName: (baseline as NSString).lastPathComponent), [judgeRuntime, baselineRuntime])
    }

    func compiled(_ path: String, as purpose: String) throws -> EvaluatedPipeline {
        try Self.compiled(path, as: purpose, compiler: includes.compiler)
    }

    /// A pipeline compiled with its diagnostics printed, or the command stops saying why it was not `purpose`.
    static func compiled(_ path: String, as purpose: String, compiler: PipelineCompiler) throws -> EvaluatedPipeline {
        let result = compiler.compileFile(path: path)
        printDiagnostics(result.diagnostics, sources: result.sources, format: .text)
        guard let compiled = result.compiled else {
            writeError("\(path): not \(purpose) (\(summary(of: result.diagnostics)))")
            throw ExitCode(1)
        }
        return EvaluatedPipeline(path: path, compiled: compiled, sources: result.sources)
    }

    /// A runtime for a helper pipeline (judge, baseline), on the evaluated pipelines' response cache.
    func runtime(for path: String, cache: ResponseCache) throws -> PipelineRuntime {
        try PipelineRuntime(compiled: compiled(path, as: "usable").compiled, options: RuntimeOptions(cache: cache))
    }
}
