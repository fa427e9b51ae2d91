import Foundation
import StrataCache
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
    public var scoresItemRanges: Bool { false }

    /// Without ranges of its own, an evaluator scores only a prefix: a whole trial.
    public func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, range: Range<Int>, meter: SpendMeter) async throws -> TrialOutcome {
        guard range.lowerBound == 0 else { throw SharedSearchUnsupported(description: "this evaluator scores whole trials, not items \(range)") }
        return try await evaluate(pipeline, phase: phase, items: range.upperBound, meter: meter)
    }
}

/// Thrown by an evaluator when a search-wide limit is reached: the search
/// stops cleanly and reports the best configuration so far.
public struct SearchStopped: Error, Sendable {
    public var reason: String
    /// What the interrupted trial had spent.
    public var calls: Int
    public var usd: Double
    public init(reason: String, calls: Int = 0, usd: Double = 0) {
        self.reason = reason
        self.calls = calls
        self.usd = usd
    }
}

/// One configuration's standing at the end of a search.
public struct LeaderboardEntry: Sendable {
    public var configured: ConfiguredPipeline
    /// Its evaluation on the most search-split items.
    public var dev: TrialRecord
    /// Its held-out evaluation, for the leaders.
    public var holdout: TrialRecord?
    public var onParetoFront: Bool
    public var configuration: Configuration { configured.configuration }
    public var objective: Double { dev.objective ?? -.infinity }
}

/// What a search found and what it cost.
public struct SearchResult: Sendable {
    public var study: StudyDescriptor
    public var settings: SearchSettings
    public var spaceSize: Int
    public var feasibleCount: Int
    /// Every trial of the study, in order.
    public var trials: [TrialRecord]
    /// Every evaluated configuration, best first.
    public var leaderboard: [LeaderboardEntry]
    /// The configurations re-evaluated on the whole search split (and held out), best first.
    public var leaders: [LeaderboardEntry]
    public var best: LeaderboardEntry?
    /// Why the search stopped early, if it did.
    public var stopReason: String?
    /// Trials run now, and trials found finished in the store (a resumed search).
    public var trialsRun: Int
    public var trialsReused: Int
    /// Calls asked for by every trial, and calls sent (the rest came from the cache).
    public var requestedCalls: Int
    public var issuedCalls: Int
    public var usd: Double
    public var seconds: Double
}

/// Runs a search: proposes configurations with the chosen algorithm,
/// evaluates the feasible ones (never an infeasible one), records every trial
/// in the study store, re-evaluates the leaders and scores them held out.
///
/// Deterministic given the seed and the scores, which is what makes resuming
/// exact: a rerun proposes the same configurations, finds the finished
/// trials in the store and carries on from the first unfinished one.
///
/// ```swift
/// let space = SearchSpaceLoader.load(path: "Pipelines/searches/local-gsm.yaml").space!
/// let plan = SearchPlan(space: space, budget: QueryBudget(calls: 10))
/// let search = Search(plan: plan, settings: SearchSettings(algorithm: .tpe, limits: SearchLimits(trials: 20)),
///                     evaluator: myEvaluator, store: InMemoryStudyStore())
/// let result = try await search.run { trial, reused in print(trial.configuration, trial.outcome?.score ?? 0) }
/// ```
public final class Search: Sendable {
    public let plan: SearchPlan
    public let settings: SearchSettings
    public let study: StudyDescriptor
    let evaluator: any TrialEvaluator
    let store: any StudyStore

    /// The study's identity is the space, the per-query budget, the data and
    /// every setting but the search-wide limits, so raising a limit continues it.
    public init(plan: SearchPlan, settings: SearchSettings, evaluator: any TrialEvaluator, store: any StudyStore) {
        self.plan = plan
        self.settings = settings
        self.evaluator = evaluator
        self.store = store
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

    /// Runs (or resumes) the search; `onTrial` sees every trial as it finishes,
    /// with `true` for one found already finished in the store.
    public func run(onTrial: @escaping @Sendable (TrialRecord, Bool) -> Void = { _, _ in }) async throws -> SearchResult {
        try await store.open(study)
        let previous = try await store.trials(study: study.id)
        let run = SearchRun(search: self, previous: previous, onTrial: onTrial)
        do {
            try await run.explore()
            try await run.finish()
        } catch let stopped as SearchStopped {
            run.stopReason = stopped.reason
        }
        return try await run.result()
    }
}

/// The mutable state of one `Search.run`, used by that call alone.
final class SearchRun: @unchecked Sendable {
    // Sendable by hand: its vars are touched only by the one `Search.run` that owns it, which awaits each trial before the next step of the algorithm reads them.
    let search: Search
    let plan: SearchPlan
    let settings: SearchSettings
    let evaluator: any TrialEvaluator
    let onTrial: @Sendable (TrialRecord, Bool) -> Void
    let meter: SpendMeter
    var memo: [String: TrialRecord] = [:]
    var fromStore: Set<String> = []
    var nextNumber: Int
    var history: [Observation] = []
    var excluded: Set<Int> = []
    var rng: SeededGenerator
    var sampler: any Sampler
    var configurationsTried = 0
    var trialsRun = 0
    var trialsReused = 0
    var stopReason: String?
    var leaders: [Int] = []

    init(search: Search, previous: [TrialRecord], onTrial: @escaping @Sendable (TrialRecord, Bool) -> Void) {
        self.search = search
        plan = search.plan
        settings = search.settings
        evaluator = search.evaluator
        self.onTrial = onTrial
        for record in previous { memo[record.identity] = record }
        fromStore = Set(memo.keys)
        nextNumber = (previous.map(\.number).max() ?? -1) + 1
        let outcomes = previous.compactMap(\.outcome)
        meter = SpendMeter(
            limits: settings.limits, calls: outcomes.reduce(0) { $0 + $1.issuedCalls },
            usd: outcomes.reduce(0) { $0 + $1.usd }, seconds: outcomes.reduce(0) { $0 + $1.seconds })
        rng = SeededGenerator(seed: settings.seed)
        sampler = settings.algorithm.makeSampler(space: plan.space, encoded: plan.encoded)
    }

    var maxTrials: Int { min(settings.limits.trials ?? plan.feasible.count, plan.feasible.count) }

    func cost(of index: Int) -> Double {
        switch settings.objective.costMeasure {
        case .calls?: Double(SearchPlan.calls(plan.feasible[index]))
        case .usd?: SearchPlan.usd(plan.feasible[index])
        case nil: 0
        }
    }

    func objective(_ outcome: TrialOutcome, index: Int) -> Double {
        guard case .penalized(let lambda, let measure) = settings.objective else { return outcome.score }
        // Calls as observed (cache hits included), so a configuration that spends
        // less than its worst case — a vote that stops early — is credited for it.
        if measure == .calls, outcome.items > 0 { return outcome.score - lambda * Double(outcome.requestedCalls) / Double(outcome.items) }
        return outcome.score - lambda * cost(of: index)
    }

    /// Evaluates a configuration, or finds the finished trial in the store.
    @discardableResult
    func evaluate(_ index: Int, phase: TrialPhase, items: Int) async throws -> TrialRecord {
        let configured = plan.feasible[index]
        let identity = TrialKey(phase, items, configured.configuration).description
        if let record = memo[identity] {
            // Found finished in the store by a resumed search: reported once. A
            // trial of this run asked for again (a leader already on every item) is not news.
            if fromStore.remove(identity) != nil {
                trialsReused += 1
                onTrial(record, true)
            }
            return record
        }
        if let reason = meter.exhausted() { throw SearchStopped(reason: reason) }
        var record = TrialRecord(
            number: nextNumber, configuration: configured.configuration, phase: phase, fidelity: items, status: .complete,
            outcome: nil, error: nil, objective: nil, staticCalls: SearchPlan.calls(configured), staticUSD: SearchPlan.usd(configured))
        do {
            let outcome = try await evaluator.evaluate(configured, phase: phase, items: items, meter: meter)
            record.outcome = outcome
            record.objective = objective(outcome, index: index)
            meter.add(calls: outcome.issuedCalls, usd: outcome.usd)
        } catch let stopped as SearchStopped {
            meter.add(calls: stopped.calls, usd: stopped.usd)
            throw stopped
        } catch {
            record.status = .failed
            record.error = "\(error)"
        }
        record.finishedAt = Date()
        nextNumber += 1
        trialsRun += 1
        try await search.store.record(record, study: search.study.id)
        memo[identity] = record
        onTrial(record, false)
        return record
    }

    /// What the sampler learns from a trial; a failed one counts as the worst seen.
    func observe(_ index: Int, _ record: TrialRecord) {
        let worst = history.map(\.value).min() ?? 0
        history.append(Observation(index: index, value: record.objective ?? min(worst, 0)))
    }

    func propose() -> Int? {
        guard configurationsTried < maxTrials, let index = sampler.next(history: history, excluded: excluded, rng: &rng) else { return nil }
        excluded.insert(index)
        configurationsTried += 1
        return index
    }

    /// The search proper, at the configured fidelity.
    func explore() async throws {
        let devItems = evaluator.devItems
        guard devItems > 0, !plan.feasible.isEmpty else { return }
        switch settings.fidelity {
        case .full:
            while let index = propose() {
                observe(index, try await evaluate(index, phase: .dev, items: devItems))
            }
        case .halving(let eta, _), .hyperband(let eta, _):
            let rungs = settings.fidelity.rungs(total: devItems)
            let eta = max(2, eta)
            var bracket = 0
            while configurationsTried < maxTrials {
                // Hyperband starts later brackets at later rungs with fewer configurations.
                var first = 0
                if case .hyperband = settings.fidelity { first = bracket % rungs.count }
                let size = Int(pow(Double(eta), Double(rungs.count - 1 - first)).rounded())
                var survivors: [Int] = []
                for _ in 0..<size {
                    guard let index = propose() else { break }
                    survivors.append(index)
                }
                if survivors.isEmpty { break }
                for (position, rung) in rungs[first...].enumerated() {
                    var scored: [(Int, Double)] = []
                    for index in survivors {
                        let record = try await evaluate(index, phase: .dev, items: rung)
                        observe(index, record)
                        scored.append((index, record.objective ?? -.infinity))
                    }
                    if first + position == rungs.count - 1 { break }
                    let keep = max(1, survivors.count / eta)
                    survivors = scored.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(keep).map(\.0)
                }
                bracket += 1
            }
        }
    }

    /// The best record so far of each evaluated configuration (most items,
    /// then latest), ranked by items first: a score on the whole split beats
    /// a luckier one on a few items, which is what halving promotes by.
    func standings() -> [(index: Int, record: TrialRecord)] {
        var best: [Int: TrialRecord] = [:]
        for record in memo.values where record.phase == .dev && record.status == .complete {
            guard let index = plan.encoded.index(of: record.configuration) else { continue }
            if let current = best[index], (current.fidelity, current.number) > (record.fidelity, record.number) { continue }
            best[index] = record
        }
        return best.map { ($0.key, $0.value) }.sorted {
            if $0.record.fidelity != $1.record.fidelity { return $0.record.fidelity > $1.record.fidelity }
            let a = $0.record.objective ?? -.infinity, b = $1.record.objective ?? -.infinity
            if a != b { return a > b }
            return $0.index < $1.index
        }
    }

    /// Score against cost — the objective's cost measure, or calls per query when it has none.
    func paretoFront(_ standings: [(index: Int, record: TrialRecord)]) -> Set<Int> {
        let measure = settings.objective.costMeasure ?? .calls
        let points = standings.map { standing in
            let configured = plan.feasible[standing.index]
            return (
                index: standing.index, score: standing.record.outcome?.score ?? 0,
                cost: measure == .calls ? Double(SearchPlan.calls(configured)) : SearchPlan.usd(configured)
            )
        }
        return Set(
            points.filter { point in
                !points.contains { other in
                    other.score >= point.score && other.cost <= point.cost && (other.score > point.score || other.cost < point.cost)
                }
            }.map(\.index))
    }

    /// The configurations re-evaluated at the end: the best by standing (on
    /// the Pareto front, for a Pareto objective).
    func chooseLeaders() -> [Int] {
        let standings = standings()
        var chosen = standings.map(\.index)
        if case .pareto = settings.objective {
            let front = paretoFront(standings)
            chosen = standings.map(\.index).filter(front.contains)
        }
        return Array(chosen.prefix(settings.leaders))
    }

    /// Leaders on the whole search split, then held out.
    func finish() async throws {
        let devItems = evaluator.devItems
        leaders = chooseLeaders()
        for index in leaders { try await evaluate(index, phase: .dev, items: devItems) }
        let standings = self.standings()
        let order = standings.map(\.index)
        leaders.sort { (order.firstIndex(of: $0) ?? .max) < (order.firstIndex(of: $1) ?? .max) }
        if evaluator.holdoutItems > 0 {
            for index in leaders { try await evaluate(index, phase: .holdout, items: evaluator.holdoutItems) }
        }
    }

    func result() async throws -> SearchResult {
        let standings = standings()
        let front = paretoFront(standings)
        func entry(_ index: Int, _ record: TrialRecord) -> LeaderboardEntry {
            let holdout = memo[TrialKey(.holdout, evaluator.holdoutItems, record.configuration).description]
            return LeaderboardEntry(configured: plan.feasible[index], dev: record, holdout: holdout, onParetoFront: front.contains(index))
        }
        let leaderboard = standings.map { entry($0.index, $0.record) }
        // After an early stop the leaders were not re-evaluated: the best so far stands.
        let leaderEntries =
            leaders.isEmpty || stopReason != nil
            ? Array(leaderboard.prefix(1))
            : leaders.compactMap { index in standings.first { $0.index == index }.map { entry($0.index, $0.record) } }
        let trials = try await search.store.trials(study: search.study.id)
        let outcomes = trials.compactMap(\.outcome)
        let spent = meter.spent
        return SearchResult(
            study: search.study, settings: settings, spaceSize: plan.size, feasibleCount: plan.feasible.count, trials: trials,
            leaderboard: leaderboard, leaders: leaderEntries, best: leaderEntries.first, stopReason: stopReason,
            trialsRun: trialsRun, trialsReused: trialsReused,
            requestedCalls: outcomes.reduce(0) { $0 + $1.requestedCalls }, issuedCalls: spent.calls, usd: spent.usd, seconds: spent.seconds)
    }
}
