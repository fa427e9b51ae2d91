import Foundation
import StrataChecker
import StrataProviders
import StrataRuntime

/// Aggregate figures of a run.
public struct EvalSummary: Sendable, Codable, Hashable {
    /// The pipeline's name.
    public var pipeline: String
    /// Items scored.
    public var items: Int
    /// Mean score (accuracy when scores are 0 or 1).
    public var mean: Double
    /// The 95% interval's lower end.
    public var intervalLow: Double
    /// The 95% interval's upper end.
    public var intervalHigh: Double
    /// `wilson` for proportions, `bootstrap` otherwise.
    public var intervalMethod: String
    /// Items with no answer.
    public var failures: Int
    /// How many items failed for each reason.
    public var failureReasons: [String: Int]
    /// Calls sent to a model per item (cache hits excluded).
    public var callsPerItem: Double
    /// Calls the pipeline asked for per item, cache hits included: its cost independent of the cache.
    public var requestedCallsPerItem: Double
    /// Input tokens per item.
    public var inputTokensPerItem: Double
    /// Output tokens per item.
    public var outputTokensPerItem: Double
    /// Of the input tokens per item, those the providers read from their prompt caches.
    public var promptCachedTokensPerItem: Double
    /// US dollars per item.
    public var usdPerItem: Double
    /// US dollars in all.
    public var usdTotal: Double
    /// Calls answered from the cache.
    public var cacheHits: Int
    /// Median seconds per item.
    public var latencyP50: Double
    /// 95th-percentile seconds per item.
    public var latencyP95: Double

    /// The summary of a run's results.
    public init(pipeline: String, results: [ItemResult]) {
        self.pipeline = pipeline
        items = results.count
        let scores = results.map(\.score)
        let n = Double(max(1, results.count))
        mean = scores.reduce(0, +) / n
        if Statistics.isBinary(scores) {
            let interval = Statistics.wilson(successes: scores.reduce(0, +), n: results.count)
            (intervalLow, intervalHigh, intervalMethod) = (interval.lowerBound, interval.upperBound, "wilson")
        } else {
            let interval = Statistics.bootstrap(scores)
            (intervalLow, intervalHigh, intervalMethod) = (interval.lowerBound, interval.upperBound, "bootstrap")
        }
        let failed = results.compactMap(\.failure)
        failures = failed.count
        failureReasons = Dictionary(failed.map { (Self.reasonClass($0), 1) }, uniquingKeysWith: +)
        callsPerItem = Double(results.reduce(0) { $0 + $1.usage.calls }) / n
        requestedCallsPerItem = Double(results.reduce(0) { $0 + $1.usage.calls + $1.usage.cacheHits }) / n
        inputTokensPerItem = Double(results.reduce(0) { $0 + $1.usage.inputTokens }) / n
        outputTokensPerItem = Double(results.reduce(0) { $0 + $1.usage.outputTokens }) / n
        promptCachedTokensPerItem = Double(results.reduce(0) { $0 + $1.usage.promptCachedTokens }) / n
        usdTotal = results.reduce(0) { $0 + $1.usage.usd }
        usdPerItem = usdTotal / n
        cacheHits = results.reduce(0) { $0 + $1.usage.cacheHits }
        let latencies = results.map(\.usage.seconds)
        latencyP50 = Statistics.percentile(latencies, 0.5)
        latencyP95 = Statistics.percentile(latencies, 0.95)
    }

    /// Groups failure messages by their start ("layer 2 (critique): critique failed").
    static func reasonClass(_ failure: String) -> String {
        String(failure.split(separator: ":").prefix(2).joined(separator: ":").prefix(80))
    }
}

/// A paired comparison of two runs on the items they share.
public struct PairedComparison: Sendable, Codable, Hashable {
    /// Items both runs scored.
    public var shared: Int
    /// A's mean on them.
    public var meanA: Double
    /// B's mean on them.
    public var meanB: Double
    /// Items only A got right, and only B (binary scores).
    public var onlyA: Int
    /// Items only B got right.
    public var onlyB: Int
    /// Exact McNemar for binary scores; for graded scores, a paired bootstrap's two-sided p.
    public var pValue: Double
    /// The test that gave `pValue`.
    public var test: String

    /// Compares two runs on the items they share.
    public init(_ a: [ItemResult], _ b: [ItemResult]) {
        let byID = Dictionary(b.map { ($0.itemID, $0.score) }, uniquingKeysWith: { first, _ in first })
        let pairs = a.compactMap { result in byID[result.itemID].map { (result.score, $0) } }
        shared = pairs.count
        let n = Double(max(1, pairs.count))
        meanA = pairs.reduce(0) { $0 + $1.0 } / n
        meanB = pairs.reduce(0) { $0 + $1.1 } / n
        onlyA = pairs.filter { $0.0 > $0.1 }.count
        onlyB = pairs.filter { $0.1 > $0.0 }.count
        if pairs.allSatisfy({ Statistics.isBinary([$0.0, $0.1]) }) {
            pValue = Statistics.mcNemar(onlyA: onlyA, onlyB: onlyB)
            test = "exact McNemar"
        } else {
            let differences = pairs.map { $0.0 - $0.1 }
            let interval = Statistics.bootstrap(differences)
            pValue = interval.contains(0) ? 1 : 0.05
            test = "paired bootstrap (p < 0.05 when the 95% interval of the difference excludes 0)"
        }
    }
}

/// Scores a pipeline on a dataset, item by item, into the run store:
/// resumable (finished items are skipped), and a finished run is a cache hit.
package struct Evaluator: Sendable {
    package var runtime: PipelineRuntime
    package var scorer: Scorer
    package var store: any RunResultStore
    package var concurrency: Int

    package init(runtime: PipelineRuntime, scorer: Scorer, store: any RunResultStore, concurrency: Int = 8) {
        self.runtime = runtime
        self.scorer = scorer
        self.store = store
        self.concurrency = max(1, concurrency)
    }

    /// Runs every item of `items` not yet in run `run`; calls `onResult` as each finishes.
    /// Returns all results of the run, old and new.
    package func evaluate(_ items: [DatasetItem], run: String, onResult: (@Sendable (ItemResult) -> Void)? = nil) async throws -> [ItemResult] {
        let done = Set(try await store.results(run: run).map(\.itemID))
        let pending = items.filter { !done.contains($0.id) }
        try await forEachConcurrently(pending, limit: concurrency) { item in
            let result = await evaluate(item)
            try await store.record(result, run: run)
            onResult?(result)
        } handle: { _, _ in
            true
        }
        let wanted = Set(items.map(\.id))
        return try await store.results(run: run).filter { wanted.contains($0.itemID) }
    }

    /// One item: its turns in order (MT-Bench's second turn sees the first answer), then the score.
    func evaluate(_ item: DatasetItem) async -> ItemResult {
        var query = item.query
        var result = await runtime.run(query, id: item.id)
        var usage = result.usage
        for followUp in item.followUps {
            guard let answer = result.answer else { break }
            query.messages += [.assistant(answer), .user(followUp)]
            result = await runtime.run(query, id: item.id)
            usage = usage + result.usage
        }
        guard let answer = result.answer else {
            return ItemResult(
                itemID: item.id, answer: nil, failure: result.failure ?? "no answer", score: 0, detail: nil, usage: usage,
                layers: result.layers, timeline: result.timeline)
        }
        let outcome = await scorer.score(answer: answer, item: item)
        return ItemResult(
            itemID: item.id, answer: answer, failure: nil, score: outcome.score, detail: outcome.detail, usage: usage,
            layers: result.layers, timeline: result.timeline)
    }
}
