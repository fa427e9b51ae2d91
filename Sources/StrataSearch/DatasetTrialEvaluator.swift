import Foundation
import StrataCache
import StrataChecker
import StrataEval
import StrataRuntime
import StrataSpace
import Synchronization

/// Scores configurations on a dataset against the real models, through the
/// eval machinery: every item goes to the run store as it finishes (so a
/// killed search loses nothing) and every call through the shared response
/// cache (so configurations that share generators and samples share calls).
/// A trial on more items continues the run of the same configuration.
public struct DatasetTrialEvaluator: TrialEvaluator {
    /// The development items trials are scored on, in order.
    public let dev: [DatasetItem]
    /// The held-out items the winner is scored on once, at the end.
    public let holdout: [DatasetItem]
    /// The content hash of the dataset, part of every run's identity.
    public let datasetHash: String
    /// Where the dataset was read from.
    public let datasetPath: String
    /// How the dataset was split into dev and held-out items, as text (part of the data's identity).
    public let split: String
    /// How an answer is scored against its item.
    public let scorer: Scorer
    /// Where every scored item is kept, so a re-run trial reuses what was already scored.
    public let store: any RunResultStore
    /// The runtime options every trial's pipeline runs with (cache, providers, limits).
    public let options: RuntimeOptions
    /// Items in flight at once within a trial.
    public let concurrency: Int

    /// - Parameters:
    ///   - dev: the search split, in the order fidelities take prefixes of it.
    ///   - holdout: the held-out split, for the leaders and the baseline.
    ///   - split: a description of the split, part of every run's key.
    public init(
        dev: [DatasetItem], holdout: [DatasetItem], datasetHash: String, datasetPath: String, split: String, scorer: Scorer,
        store: any RunResultStore, options: RuntimeOptions, concurrency: Int = 8
    ) {
        self.dev = dev
        self.holdout = holdout
        self.datasetHash = datasetHash
        self.datasetPath = datasetPath
        self.split = split
        self.scorer = scorer
        self.store = store
        self.options = options
        self.concurrency = concurrency
    }

    /// The dataset's hash, its split and the scorer: trials scored under another identity are not reused.
    public var dataIdentity: String {
        "\(datasetHash) \(split) dev \(dev.map(\.id).joined(separator: ",")) holdout \(holdout.map(\.id).joined(separator: ",")) \(scorer)"
    }
    /// The number of development items.
    public var devItems: Int { dev.count }
    /// The number of held-out items.
    public var holdoutItems: Int { holdout.count }

    /// Runs the configuration on the first `items` items of `phase` and returns its mean score and spend.
    public func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, items: Int, meter: SpendMeter) async throws -> TrialOutcome {
        try await evaluate(pipeline, phase: phase, range: 0..<items, meter: meter)
    }

    /// Ranges of items go to the same run as whole trials (per-item results,
    /// first writer wins), so workers can share a trial.
    public var scoresItemRanges: Bool { true }

    /// Runs the configuration on the items in `range` of `phase`: one worker's share of a split trial.
    public func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, range: Range<Int>, meter: SpendMeter) async throws -> TrialOutcome {
        guard let checked = pipeline.pipeline, let tree = pipeline.tree else {
            throw SearchStopped(reason: "internal: an infeasible configuration reached the evaluator")
        }
        // The filled tree's ranges point into the search file; includes are the other sources.
        let spacePath = tree.range.file
        let yaml = PipelineWriter.render(
            tree, templatePath: spacePath, outputPath: spacePath,
            header: ["configuration: \(pipeline.configuration.key)"])
        let included = pipeline.sources.all.filter { $0.path != spacePath }.map(\.text)
        let hash = ContentHash.sha256(([yaml] + included).joined(separator: "\n\u{0}"))
        return try await evaluate(checked, pipelineHash: hash, pipelineYAML: yaml, label: pipeline.configuration.key, phase: phase, range: range, meter: meter)
    }

    /// Scores any checked pipeline the same way (the baseline a search is compared with).
    package func evaluate(
        _ checked: CheckedPipeline, pipelineHash: String, pipelineYAML: String, label: String, phase: TrialPhase, items: Int,
        meter: SpendMeter
    ) async throws -> TrialOutcome {
        try await evaluate(checked, pipelineHash: pipelineHash, pipelineYAML: pipelineYAML, label: label, phase: phase, range: 0..<items, meter: meter)
    }

    func evaluate(
        _ checked: CheckedPipeline, pipelineHash: String, pipelineYAML: String, label: String, phase: TrialPhase, range: Range<Int>,
        meter: SpendMeter
    ) async throws -> TrialOutcome {
        let split = phase == .dev ? dev : holdout
        let selected = Array(split[range.clamped(to: 0..<split.count)])
        let key = RunKey(pipelineHash: pipelineHash, datasetHash: datasetHash, scorer: scorer.description, selection: "search \(phase.rawValue) \(split)")
        try await store.begin(key, pipelinePath: label, pipelineYAML: pipelineYAML, datasetPath: datasetPath, items: (phase == .dev ? dev : holdout).count)
        let runtime = try PipelineRuntime(pipeline: checked, options: options)
        let evaluator = Evaluator(runtime: runtime, scorer: scorer, store: store, concurrency: concurrency)
        let spend = TrialSpend()
        let start = Date()
        let task = Task {
            try await evaluator.evaluate(selected, run: key.id) { result in
                let (calls, usd) = spend.add(result.usage)
                meter.itemFinished(calls: result.usage.calls, usd: result.usage.usd)
                if meter.exhausted(addingCalls: calls, usd: usd) != nil { spend.stop() }
            }
        }
        spend.task = task
        if spend.stopped { task.cancel() }
        let results: [ItemResult]
        do {
            // The trial runs in a task of its own (so a spend limit can stop it); cancelling the caller stops it too.
            results = try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        } catch {
            try? await runtime.shutdown()
            // Stopped for the budget: that is the reason, not the cancellation it caused.
            guard spend.stopped else { throw error }
            let (calls, usd) = spend.total
            throw SearchStopped(reason: meter.exhausted(addingCalls: calls, usd: usd) ?? "the trial was interrupted", calls: calls, usd: usd)
        }
        try await runtime.shutdown()
        let (calls, usd) = spend.total
        if spend.stopped || results.count < selected.count {
            throw SearchStopped(reason: meter.exhausted(addingCalls: calls, usd: usd) ?? "the trial was interrupted", calls: calls, usd: usd)
        }
        let n = Double(max(1, results.count))
        return TrialOutcome(
            score: results.reduce(0) { $0 + $1.score } / n, items: results.count,
            itemScores: Dictionary(results.map { ($0.itemID, $0.score) }, uniquingKeysWith: { first, _ in first }),
            failures: results.filter { $0.failure != nil }.count,
            requestedCalls: results.reduce(0) { $0 + $1.usage.calls + $1.usage.cacheHits }, issuedCalls: calls,
            inputTokens: results.reduce(0) { $0 + $1.usage.inputTokens }, outputTokens: results.reduce(0) { $0 + $1.usage.outputTokens },
            usd: usd, seconds: Date().timeIntervalSince(start))
    }
}

/// What a trial in progress has spent; cancels it when the search must stop.
final class TrialSpend: Sendable {
    private struct State {
        var calls = 0
        var usd = 0.0
        var stopped = false
        var task: Task<[ItemResult], Error>?
    }
    private let state = Mutex(State())

    var stopped: Bool { state.withLock { $0.stopped } }
    var task: Task<[ItemResult], Error>? {
        get { state.withLock { $0.task } }
        set { state.withLock { $0.task = newValue } }
    }

    func add(_ usage: RunUsage) -> (Int, Double) {
        state.withLock {
            $0.calls += usage.calls
            $0.usd += usage.usd
            return ($0.calls, $0.usd)
        }
    }

    var total: (Int, Double) { state.withLock { ($0.calls, $0.usd) } }

    func stop() {
        let task = state.withLock {
            $0.stopped = true
            return $0.task
        }
        task?.cancel()
    }
}
