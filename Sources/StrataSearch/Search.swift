import Foundation
import StrataCache
import StrataEval
import StrataSpace

/// Scores configurations. `DatasetTrialEvaluator` runs them on a dataset
/// against real models; embedders and benchmarks supply their own.
public protocol TrialEvaluator: Sendable {
    /// What the scores are measured on (a dataset's hash and split): part of a study's identity.
    var dataIdentity: String { get }
    /// Items in the search split; a trial's fidelity is a prefix of them.
    var devItems: Int { get }
    /// Items in the held-out split, for the final leaders (0: none).
    var holdoutItems: Int { get }
    /// Scores `pipeline` on the first `items` items of `phase`'s split. Throws
    /// `SearchStopped` when `meter` says a search limit was reached mid-trial.
    func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, items: Int, meter: SpendMeter) async throws -> TrialOutcome
    /// Whether `evaluate(_:phase:range:meter:)` scores any range of a split's
    /// items, so that workers sharing a study can split one trial among them.
    var scoresItemRanges: Bool { get }
    /// Scores `pipeline` on the items `range` of `phase`'s split: one part of a trial.
    func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, range: Range<Int>, meter: SpendMeter) async throws -> TrialOutcome
}

extension TrialEvaluator {
    /// False: this evaluator scores only from the first item, so trials are not split among workers.
    public var scoresItemRanges: Bool { false }

    /// Without ranges of its own, an evaluator scores only a prefix: a whole trial.
    public func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, range: Range<Int>, meter: SpendMeter) async throws -> TrialOutcome {
        guard range.lowerBound == 0 else { throw SharedSearchUnsupported(description: "this evaluator scores whole trials, not items \(range)") }
        return try await evaluate(pipeline, phase: phase, items: range.upperBound, meter: meter)
    }
}

/// Thrown by an evaluator when a search-wide limit is reached: the search
/// stops cleanly and reports the best configuration so far.
package struct SearchStopped: Error, Sendable {
    package var reason: String
    /// What the interrupted trial had spent.
    package var calls: Int
    package var usd: Double
    package init(reason: String, calls: Int = 0, usd: Double = 0) {
        self.reason = reason
        self.calls = calls
        self.usd = usd
    }
}

/// One configuration's standing at the end of a search.
public struct LeaderboardEntry: Sendable {
    /// The configuration with its compiled pipeline and static cost.
    public var configured: ConfiguredPipeline
    /// Its evaluation on the most search-split items.
    public var dev: TrialRecord
    /// Its held-out evaluation, for the leaders.
    public var holdout: TrialRecord?
    /// Whether no other finished trial is both better and cheaper.
    public var onParetoFront: Bool
    /// The axis values of the configuration.
    public var configuration: Configuration { configured.configuration }
    /// The development objective; minus infinity when the trial failed.
    public var objective: Double { dev.objective ?? -.infinity }
}

/// What a search found and what it cost.
public struct SearchResult: Sendable {
    /// The study the search ran as.
    public var study: StudyDescriptor
    /// The settings the search ran with.
    public var settings: SearchSettings
    /// How many configurations the space holds.
    public var spaceSize: Int
    /// How many of them fit the per-query budget.
    public var feasibleCount: Int
    /// Every trial of the study, in order.
    public var trials: [TrialRecord]
    /// Every evaluated configuration, best first.
    public var leaderboard: [LeaderboardEntry]
    /// The configurations re-evaluated on the whole search split (and held out), best first.
    public var leaders: [LeaderboardEntry]
    /// The winner: the best development trial, with its held-out score when one was measured.
    public var best: LeaderboardEntry?
    /// Why the search stopped early, if it did.
    public var stopReason: String?
    /// Trials run now, and trials found finished in the store (a resumed search).
    public var trialsRun: Int
    /// How many trials came from the study store instead of being run again.
    public var trialsReused: Int
    /// Calls asked for by every trial, and calls sent (the rest came from the cache).
    public var requestedCalls: Int
    /// Model calls issued by this run (cache hits not counted).
    public var issuedCalls: Int
    /// What this run's calls cost, in US dollars.
    public var usd: Double
    /// Wall-clock seconds this run took.
    public var seconds: Double
}

/// Runs a search: proposes configurations with the chosen algorithm,
/// evaluates the feasible ones (never an infeasible one), records every trial
/// in the study store, re-evaluates the leaders and scores them held out.
///
/// One engine runs every search: a worker loop that asks the study's policy
/// what to do next from the trials in the store. A search in one process is
/// a study with one worker; workers on many machines share a PostgreSQL
/// store. Deterministic given the seed and the scores, which is what makes
/// resuming exact: a rerun finds the finished trials in the store and the
/// policy carries on from there.
///
/// ```swift
/// let space = SearchSpaceLoader.load(path: "Pipelines/searches/local-gsm.yaml").space!
/// let plan = SearchPlan(space: space, budget: QueryBudget(calls: 10))
/// let search = Search(plan: plan, settings: SearchSettings(algorithm: .tpe, limits: SearchLimits(trials: 20)),
///                     evaluator: myEvaluator, store: InMemoryStudyStore())
/// let result = try await search.run { trial, reused in print(trial.configuration, trial.outcome?.score ?? 0) }
/// ```
public final class Search: Sendable {
    /// The space and budget being searched.
    public let plan: SearchPlan
    /// The algorithm, seed, fidelity, objective and limits.
    public let settings: SearchSettings
    /// The study the trials are recorded under.
    public let study: StudyDescriptor
    let evaluator: any TrialEvaluator
    let store: any StudyStore
    let rules: StudyRules

    /// The study's identity is the space, the per-query budget, the data and
    /// every setting but the search-wide limits, so raising a limit continues it.
    /// With `holdsOutCheapest`, the space's cheapest configuration is held out
    /// too, as a trial of the study: the baseline the winner is compared with.
    public init(plan: SearchPlan, settings: SearchSettings, evaluator: any TrialEvaluator, store: any StudyStore, holdsOutCheapest: Bool = false) {
        self.plan = plan
        self.settings = settings
        self.evaluator = evaluator
        self.store = store
        rules = StudyRules(
            plan: plan, settings: settings, devItems: evaluator.devItems, holdoutItems: evaluator.holdoutItems, holdsOutCheapest: holdsOutCheapest)
        // Limits may grow between runs of the same study; everything else that shapes it is its identity.
        var identity = settings
        identity.limits = SearchLimits()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let settingsText = String(decoding: (try? encoder.encode(identity)) ?? Data(), as: UTF8.self)
        let budgetText = String(decoding: (try? encoder.encode(plan.budget)) ?? Data(), as: UTF8.self)
        let included = plan.feasible.first?.sources.all.filter { $0.path != plan.space.source.path }.map(\.text) ?? []
        let id = ContentHash.sha256(([plan.space.source.text, budgetText, settingsText, evaluator.dataIdentity] + included).joined(separator: "\n\u{0}"))
        study = StudyDescriptor(id: String(id.prefix(16)), name: plan.space.name, spacePath: plan.space.source.path, settings: settingsText)
    }

    /// Runs (or resumes) the search in this process; `onTrial` sees every
    /// trial as it finishes, and first, with `true`, those found finished in the store.
    public func run(onTrial: @escaping @Sendable (TrialRecord, Bool) -> Void = { _, _ in }) async throws -> SearchResult {
        try await runWorker(store: store.workQueue(), worker: WorkerOptions(), onTrial: onTrial)
    }
}
