import Foundation
import StrataCache
import StrataCompiler
import StrataDiagnostics
import StrataRuntime
import StrataSyntax

/// Which items of a dataset an evaluation scores: a deterministic split,
/// named ids, then at most a number of them, in that order.
public struct ItemSelection: Sendable, CustomStringConvertible {
    /// Keep one side of a deterministic split.
    public var split: DatasetSplit?
    /// Keep only these item ids.
    public var ids: Set<String>?
    /// Keep at most this many items (after the other filters).
    public var limit: Int?

    /// A selection; nil keeps everything.
    public init(split: DatasetSplit? = nil, ids: Set<String>? = nil, limit: Int? = nil) {
        self.split = split
        self.ids = ids
        self.limit = limit
    }

    /// The selected items, in order.
    public func apply(_ items: [DatasetItem]) -> [DatasetItem] {
        var selected = items
        if let split { selected = split.apply(selected) }
        if let ids { selected = selected.filter { ids.contains($0.id) } }
        if let limit { selected = Array(selected.prefix(limit)) }
        return selected
    }

    /// Part of the run's key: the same selection of the same data is the same run.
    public var description: String {
        var parts: [String] = []
        if let split { parts.append("split \(split)") }
        if let ids { parts.append("items \(ids.sorted().joined(separator: ","))") }
        if let limit { parts.append("limit \(limit)") }
        return parts.joined(separator: "; ")
    }
}

/// A pipeline an evaluation scores: compiled, with where it came from.
public struct EvaluatedPipeline: Sendable {
    /// The pipeline file.
    public var path: String
    /// The compiled pipeline.
    public var compiled: CompiledPipeline
    /// The files it was compiled from (hashed into the run's key).
    public var sources: SourceMap

    /// A pipeline to evaluate.
    public init(path: String, compiled: CompiledPipeline, sources: SourceMap) {
        self.path = path
        self.compiled = compiled
        self.sources = sources
    }

    /// The pipeline's `name:`, or its path.
    public var name: String { compiled.pipeline.name ?? path }
}

/// What `strata eval` does, as one library call: one pipeline — or two, on
/// the same items, compared with a paired test — scored on a dataset, every
/// item's result in the run store (so a killed evaluation resumes and a
/// finished one is a cache hit).
public struct EvalJob: Sendable {
    /// One pipeline, or two to compare.
    public var pipelines: [EvaluatedPipeline]
    /// The dataset.
    public var dataset: LoadedDataset
    /// Which items are scored.
    public var selection: ItemSelection
    /// How answers are scored.
    public var scorer: Scorer
    /// Where every item's result is kept, so an interrupted evaluation resumes.
    public var store: any RunResultStore
    /// The response cache the pipelines' calls go through.
    public var cache: ResponseCache
    /// Items in flight at once.
    public var concurrency: Int
    /// With a shared store: the queue that splits each run's items among the
    /// workers running the same job, and this worker (its `unitItems` per range).
    package var shared: (queue: any SharedItemQueue, worker: WorkerOptions)?
    /// Hears of every query (the OpenTelemetry export).
    package var observer: (any QueryObserver)?

    /// An evaluation.
    public init(
        pipelines: [EvaluatedPipeline], dataset: LoadedDataset, selection: ItemSelection = ItemSelection(), scorer: Scorer,
        store: any RunResultStore, cache: ResponseCache = .disabled, concurrency: Int = 8
    ) {
        self.pipelines = pipelines
        self.dataset = dataset
        self.selection = selection
        self.scorer = scorer
        self.store = store
        self.cache = cache
        self.concurrency = concurrency
    }

    /// The items the job scores.
    public var items: [DatasetItem] { selection.apply(dataset.items) }

    /// Scores every pipeline in turn: `onStart` hears when one starts, `onItem`
    /// each of its items as it is scored, and `onEnd` when it is done.
    public func run(
        onStart: (EvaluatedPipeline) -> Void = { _ in }, onItem: @escaping @Sendable (ItemResult) -> Void = { _ in },
        onEnd: (EvaluatedPipeline) -> Void = { _ in }
    ) async throws -> EvalOutcome {
        let selected = items
        var runs: [EvalOutcome.Run] = []
        for pipeline in pipelines {
            onStart(pipeline)
            let key = RunKey(
                pipelineHash: PipelineIdentity.of(pipeline.sources, main: pipeline.path), datasetHash: dataset.hash,
                scorer: scorer.description, selection: selection.description)
            try await store.begin(
                key, pipelinePath: pipeline.path, pipelineYAML: pipeline.sources[pipeline.path]?.text ?? "",
                datasetPath: dataset.path, items: selected.count)
            let runtime = try PipelineRuntime(compiled: pipeline.compiled, options: RuntimeOptions(cache: cache, recordTimeline: true, observer: observer))
            let evaluator = Evaluator(runtime: runtime, scorer: scorer, store: store, concurrency: concurrency)
            let results: [ItemResult]
            do {
                if let shared {
                    results = try await evaluator.evaluateShared(
                        selected, run: key.id, queue: shared.queue, worker: shared.worker, onResult: onItem)
                } else {
                    results = try await evaluator.evaluate(selected, run: key.id, onResult: onItem)
                }
            } catch {
                try? await runtime.shutdown()
                throw error
            }
            try await runtime.shutdown()
            let coverage = try await coverage(of: pipeline, results: results, items: selected)
            if let coverage { try await store.recordCoverage(coverage, run: key.id) }
            onEnd(pipeline)
            runs.append(
                EvalOutcome.Run(
                    summary: EvalSummary(pipeline: pipeline.name, results: results), results: results, coverage: coverage,
                    calls: pipeline.compiled.graph.fewestCalls...pipeline.compiled.graph.worstCaseCallNodes))
        }
        let comparison = runs.count == 2 ? PairedComparison(runs[0].results, runs[1].results) : nil
        return EvalOutcome(dataset: dataset.path, scorer: scorer.description, items: selected, runs: runs, comparison: comparison)
    }
}

extension EvalJob {
    /// The coverage curve of a pipeline that draws several samples, from the
    /// samples its items drew. Not for judge scorers: scoring every sample
    /// would cost a judge's call each.
    func coverage(of pipeline: EvaluatedPipeline, results: [ItemResult], items: [DatasetItem]) async throws -> CoverageCurve? {
        switch scorer {
        case .judge, .pairwise: return nil
        default: break
        }
        let vote = pipeline.compiled.graph.layers.first { $0.kind == .vote }
        let extractor: AnswerExtractorKind =
            vote?.extractor
            ?? {
                switch scorer {
                case .numeric: .numeric
                case .code: .code
                default: .exact
                }
            }()
        return try await CoverageCurve.measure(results: results, items: items, scorer: scorer, extractor: extractor, concurrency: concurrency)
    }
}

/// What an evaluation found: per pipeline its summary and per-item results, and the paired comparison of two.
public struct EvalOutcome: Sendable {
    /// One pipeline's results.
    public struct Run: Sendable {
        /// Its aggregate figures.
        public var summary: EvalSummary
        /// Its result on every item.
        public var results: [ItemResult]
        /// What its samples were worth, when it draws several.
        public var coverage: CoverageCurve?
        /// The fewest and the most calls one query of it can make (they differ for adaptive pipelines).
        public var calls: ClosedRange<Int>
    }

    /// The dataset's path.
    public var dataset: String
    /// The scorer, as the CLI spells it.
    public var scorer: String
    /// The items scored.
    public var items: [DatasetItem]
    /// One run per pipeline, in the order given.
    public var runs: [Run]
    /// The paired comparison, when two pipelines were evaluated.
    public var comparison: PairedComparison?

    /// The outcome as the JSON `strata eval --format json` prints.
    public func json() throws -> String {
        struct Report: Encodable {
            var dataset: String
            var scorer: String
            var items: Int
            var runs: [EvalSummary]
            var coverage: [CoverageCurve?]
            var comparison: PairedComparison?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let report = Report(
            dataset: dataset, scorer: scorer, items: items.count, runs: runs.map(\.summary), coverage: runs.map(\.coverage), comparison: comparison)
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    /// The outcome as the text `strata eval` prints.
    public var text: String {
        EvalReport.text(runs.map(\.summary), comparison: comparison, dataset: dataset, scorer: scorer)
            + runs.filter { $0.calls.count > 1 }.map { run in
                String(
                    format: "\ncalls asked per item by %@: %.2f observed, against %d at least and %d at worst per query\n", run.summary.pipeline,
                    run.summary.requestedCallsPerItem, run.calls.lowerBound, run.calls.upperBound)
            }.joined()
            + runs.compactMap { run in run.coverage.map { EvalReport.coverage($0, pipeline: run.summary.pipeline) } }.joined()
    }

    /// For each run, how many samples its vote is worth, judged from the samples
    /// it drew (Chen et al., "Are More LLM Calls All You Need?": a vote's accuracy
    /// need not grow with k), and how sure that is; or why there is nothing to judge.
    public var recommendations: String {
        runs.map { run in
            let name = run.summary.pipeline
            guard let curve = run.coverage, let recommendation = curve.recommendation else {
                return "\nno recommended k for \(name): no layer drew two or more samples an item\n"
            }
            let drawn = curve.points.last.map(\.majorityAtK) ?? recommendation.accuracy
            return String(
                format:
                    "\nrecommended k for %@: %d samples (drawn: %d). Majority@%d is %.3f against %.3f at %d, for %.0f%% of the calls.\n"
                    + "  It is the smallest k within 0.01 of the best vote; %.0f%% of 200 bootstrap resamples of the %d items pick it.\n"
                    + "  To apply it, set the samples of %@'s ensemble layer to %d.\n",
                name, recommendation.k, curve.samples, recommendation.k, recommendation.accuracy, drawn, curve.samples,
                100 * Double(recommendation.k) / Double(curve.samples), 100 * recommendation.agreement, curve.items, name, recommendation.k)
        }.joined()
    }

    /// One self-contained HTML page: summary, score-vs-cost plot, per-item drill-down.
    public var html: String {
        HTMLReport.render(
            title: "Strata eval: " + runs.map(\.summary.pipeline).joined(separator: " vs "), dataset: dataset, scorer: scorer,
            runs: runs.map { HTMLReport.Run(summary: $0.summary, results: $0.results, coverage: $0.coverage) }, items: items, comparison: comparison)
    }
}
