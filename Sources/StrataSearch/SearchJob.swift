import Foundation
import StrataCache
import StrataEval
import StrataRuntime
import StrataSpace

/// The items a search scores configurations on: the search split (with its
/// limit) and the held-out rest, from the same deterministic split.
package struct SearchData: Sendable {
    package var dev: [DatasetItem] = []
    package var holdout: [DatasetItem] = []
    package var dataset: LoadedDataset?
    package var split: DatasetSplit
    package var scorer: Scorer

    /// The split of `dataset` (none for a dry run without data).
    package init(dataset: LoadedDataset?, split: DatasetSplit, scorer: Scorer, devLimit: Int? = nil, holdoutLimit: Int? = nil) {
        self.dataset = dataset
        self.split = split
        self.scorer = scorer
        guard let dataset else { return }
        dev = split.apply(dataset.items)
        holdout = DatasetSplit(part: .test, fraction: split.fraction, seed: split.seed).apply(dataset.items)
        if let devLimit { dev = Array(dev.prefix(devLimit)) }
        if let holdoutLimit { holdout = Array(holdout.prefix(holdoutLimit)) }
    }
}

extension SearchSettings {
    /// Successive halving and Hyperband with no smallest rung given start at
    /// a ninth (eta²) of the search split.
    public func resolvingMinItems(devItems: Int) -> SearchSettings {
        var settings = self
        switch fidelity {
        case .halving(let eta, 0): settings.fidelity = .halving(eta: eta, minItems: max(1, devItems / (eta * eta)))
        case .hyperband(let eta, 0): settings.fidelity = .hyperband(eta: eta, minItems: max(1, devItems / (eta * eta)))
        default: break
        }
        return settings
    }
}

/// What `strata search` does, as one library call: the search itself (which
/// resumes from its study store), then the winner and a baseline — the given
/// pipeline, or else the space's cheapest configuration — on the held-out items.
package struct SearchJob: Sendable {
    package var plan: SearchPlan
    package var settings: SearchSettings
    package var data: SearchData
    package var runStore: any RunResultStore
    /// Hears of every query (the OpenTelemetry export).
    package var observer: (any QueryObserver)?
    package var studyStore: any StudyStore
    package var cache: ResponseCache
    package var concurrency: Int
    /// The pipeline the winner is compared with on the held-out items.
    package var baseline: EvaluatedPipeline?
    /// With a shared study store: how this process works with the others on the study.
    package var worker: WorkerOptions?

    package init(
        plan: SearchPlan, settings: SearchSettings, data: SearchData, runStore: any RunResultStore, studyStore: any StudyStore,
        cache: ResponseCache = .disabled, concurrency: Int = 8, baseline: EvaluatedPipeline? = nil
    ) {
        self.plan = plan
        self.settings = settings.resolvingMinItems(devItems: data.dev.count)
        self.data = data
        self.runStore = runStore
        self.studyStore = studyStore
        self.cache = cache
        self.concurrency = concurrency
        self.baseline = baseline
    }

    var evaluator: DatasetTrialEvaluator {
        DatasetTrialEvaluator(
            dev: data.dev, holdout: data.holdout, datasetHash: data.dataset?.hash ?? "", datasetPath: data.dataset?.path ?? "",
            split: "\(data.split)", scorer: data.scorer, store: runStore, options: RuntimeOptions(cache: cache, recordTimeline: true, observer: observer),
            concurrency: concurrency)
    }

    /// The search this job runs; its study id says where it resumes from.
    /// Without a baseline pipeline, the space's cheapest configuration is held out as part of the study.
    package var search: Search { Search(plan: plan, settings: settings, evaluator: evaluator, store: studyStore, holdsOutCheapest: baseline == nil) }

    /// Runs the search and the held-out comparison; `onTrial` sees every trial
    /// as it finishes (and whether it came from the store).
    package func run(onTrial: @escaping @Sendable (TrialRecord, Bool) -> Void = { _, _ in }) async throws -> SearchResult {
        try await search.runWorker(store: studyStore.workQueue(), worker: worker ?? WorkerOptions(), onTrial: onTrial)
    }

    /// The baseline's held-out outcome, and what to call it (nil when there is nothing held out, or the search stopped).
    package func baselineOutcome(after result: SearchResult) async throws -> (label: String, outcome: TrialOutcome)? {
        guard !data.holdout.isEmpty, result.stopReason == nil else { return nil }
        guard let baseline else {
            // The cheapest configuration was scored as a trial of the study, once, however many workers share it.
            guard let cheapest = plan.cheapest,
                let record = result.trials.last(where: { $0.phase == .holdout && $0.configuration == cheapest.configuration }),
                let outcome = record.outcome
            else { return nil }
            return ("the cheapest configuration (\(cheapest.configuration.key))", outcome)
        }
        // Each worker scores the baseline pipeline; a shared cache makes every one after the first free.
        let outcome = try await evaluator.evaluate(
            baseline.compiled.pipeline, pipelineHash: PipelineIdentity.of(baseline.sources, main: baseline.path),
            pipelineYAML: baseline.sources[baseline.path]?.text ?? "", label: baseline.path, phase: .holdout,
            items: data.holdout.count, meter: SpendMeter.unlimited())
        return (baseline.path, outcome)
    }

    /// The best configuration as a pipeline file to write at `outputPath`, with a header saying how it was found.
    package func bestPipeline(_ result: SearchResult, outputPath: String, header: [String]) -> String? {
        guard let best = result.best, let tree = best.configured.tree else { return nil }
        return PipelineWriter.render(tree, templatePath: plan.space.source.path, outputPath: outputPath, header: header)
    }
}
