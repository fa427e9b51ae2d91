import Foundation
import StrataEval
import StrataSpace
import Synchronization

/// A search setting that workers cannot share yet.
public struct SharedSearchUnsupported: Error, CustomStringConvertible {
    public var description: String
}

extension Search {
    /// Works on the study together with every other worker started on the
    /// same store: claims trials others proposed, proposes the next one under
    /// the study's lock when none is ready (TPE counting the trials in flight
    /// elsewhere as bad, so workers do not crowd one region), and when the
    /// space or the trial limit is exhausted, scores the leaders held out.
    /// Returns when the study is done, or a global limit is reached; every
    /// worker then reports the same study.
    public func runWorker(
        store: any SharedStudyStore, worker: WorkerOptions, onTrial: @escaping @Sendable (TrialRecord, Bool) -> Void = { _, _ in }
    ) async throws -> SearchResult {
        guard settings.algorithm != .greedy else {
            throw SharedSearchUnsupported(description: "greedy walks one axis at a time in one process; use tpe, random or grid with a shared store")
        }
        try await store.open(study)
        try await store.register(worker: worker.id, study: study.id)
        // A worker starting again (with higher limits, say) reopens a stopped study; its own limits decide anew.
        try await store.stop(study: study.id, reason: nil)
        let shared = SharedWorker(search: self, store: store, options: worker, onTrial: onTrial)
        try await shared.work()
        let finished = try await store.trials(study: study.id)
        let run = SearchRun(search: self, previous: finished, onTrial: { _, _ in })
        run.stopReason = shared.stopReason
        if run.stopReason == nil {
            let order = run.standings().map(\.index)
            run.leaders = run.chooseLeaders().sorted { (order.firstIndex(of: $0) ?? .max) < (order.firstIndex(of: $1) ?? .max) }
        }
        run.trialsRun = shared.trialsRun
        run.trialsReused = finished.count - shared.trialsRun
        return try await run.result()
    }
}

/// One worker's loop: claim, else propose, else wait. Its vars are touched
/// only by `work()`, which awaits each step before the next.
final class SharedWorker: @unchecked Sendable {
    let search: Search
    let store: any SharedStudyStore
    let options: WorkerOptions
    let onTrial: @Sendable (TrialRecord, Bool) -> Void
    let meter: SpendMeter
    /// Publishes this worker's spend item by item, so the study's limits hold within an item.
    let ledger: SpendLedger
    /// Objectives, standings and leaders, as the single-process search computes them.
    let scoring: SearchRun
    var stopReason: String?
    var trialsRun = 0

    enum Decision {
        case proposed, wait, done
    }

    init(search: Search, store: any SharedStudyStore, options: WorkerOptions, onTrial: @escaping @Sendable (TrialRecord, Bool) -> Void) {
        self.search = search
        self.store = store
        self.options = options
        self.onTrial = onTrial
        let meter = SpendMeter(limits: search.settings.limits, calls: 0, usd: 0, seconds: 0)
        let ledger = SpendLedger(store: store, study: search.study.id, meter: meter)
        meter.onItem { ledger.item(calls: $0, usd: $1) }
        self.meter = meter
        self.ledger = ledger
        scoring = SearchRun(search: search, previous: [], onTrial: { _, _ in })
    }

    var studyID: String { search.study.id }

    func work() async throws {
        defer {
            meter.onItem(nil)
            ledger.close()
        }
        while true {
            try Task.checkCancellation()
            // Another worker stopped the study (a limit, or its evaluator said so): stop with it.
            if let reason = try await readSpend() {
                stopReason = reason
                return
            }
            if let reason = meter.exhausted() {
                stopReason = reason
                try await store.stop(study: studyID, reason: reason)
                return
            }
            if let claim = try await store.claim(study: studyID, worker: options.id, ttl: options.leaseTTL) {
                if try await evaluate(claim) { continue }
                return
            }
            let decision = Mutex(Decision.wait)
            // Trials split into ranges of items only for an evaluator that scores ranges.
            let unitItems = search.evaluator.scoresItemRanges ? options.unitItems : nil
            _ = try await store.propose(study: studyID, worker: options.id, unitItems: unitItems) { [self] state in
                let (trials, next) = decide(state)
                decision.withLock { $0 = next }
                return trials
            }
            switch decision.withLock({ $0 }) {
            case .proposed: continue
            case .wait: try await Task.sleep(for: .seconds(options.poll))
            case .done: return
            }
        }
    }

    /// The study's spend, every worker's, as the limits judge it; why the study stopped, if it did.
    func readSpend() async throws -> String? {
        try await ledger.refresh().stopReason
    }

    /// What to queue next, from the whole study: under successive halving or
    /// Hyperband, a promotion to the next rung when one is due (ASHA, within
    /// the configuration's bracket); else a new configuration (on its
    /// bracket's first rung) while the exploration lasts; then, once every exploring
    /// trial is in, the leaders on the whole search split and held out; then nothing.
    func decide(_ state: SharedStudyState) -> ([PendingTrial], Decision) {
        let plan = search.plan, settings = search.settings, evaluator = search.evaluator
        let devItems = evaluator.devItems
        guard devItems > 0, !plan.feasible.isEmpty else { return ([], .done) }
        let finishedDev = state.finished.filter { $0.phase == .dev }.sorted { $0.number < $1.number }
        let pendingDev = state.pending.filter { $0.phase == .dev }
        let known = Set(state.finished.map(\.identity) + state.pending.map(\.identity))
        let rungs = settings.fidelity.rungs(total: devItems)
        // A configuration's bracket is the rung it started on: its fewest items, finished or queued.
        var firstRung: [String: Int] = [:]
        for trial in finishedDev.map(PendingTrial.init) + pendingDev {
            let rung = rungs.firstIndex(of: trial.fidelity) ?? rungs.count - 1
            firstRung[trial.configuration.key] = min(firstRung[trial.configuration.key] ?? rung, rung)
        }
        switch settings.fidelity {
        case .full: break
        case .halving(let eta, _), .hyperband(let eta, _):
            for bracket in 0..<rungs.count {
                let members = finishedDev.filter { firstRung[$0.configuration.key] == bracket }
                if let promoted = Self.promotion(rungs: rungs, eta: eta, finished: members, known: known, index: plan.encoded.index(of:)) {
                    return ([pending(promoted.index, phase: .dev, items: promoted.items)], .proposed)
                }
            }
        }
        let tried = Set(finishedDev.compactMap { plan.encoded.index(of: $0.configuration) })
        let inFlight = Array(Set(pendingDev.compactMap { plan.encoded.index(of: $0.configuration) })).sorted()
        let maxTrials = min(settings.limits.trials ?? plan.feasible.count, plan.feasible.count)
        if tried.union(inFlight).count < maxTrials {
            // As the single-process search observes: a failed trial counts as the worst seen so far.
            var history: [Observation] = []
            var worst = 0.0
            for record in finishedDev {
                guard let index = plan.encoded.index(of: record.configuration) else { continue }
                let value = record.objective ?? worst
                worst = min(worst, value)
                history.append(Observation(index: index, value: value))
            }
            // Proposal k draws from its own generator: workers sharing a seed cannot repeat each other.
            var rng = SeededGenerator(seed: settings.seed &+ UInt64(state.proposals) &* 0xD1B5_4A32_D192_ED03)
            let next: Int?
            if settings.algorithm == .tpe {
                var sampler = TPESampler(encoded: plan.encoded)
                sampler.pending = inFlight
                next = sampler.next(history: history, excluded: tried.union(inFlight), rng: &rng)
            } else {
                var sampler = settings.algorithm.makeSampler(space: plan.space, encoded: plan.encoded)
                next = sampler.next(history: history, excluded: tried.union(inFlight), rng: &rng)
            }
            if let next {
                let bracket = Self.bracket(ofConfiguration: tried.union(inFlight).count, fidelity: settings.fidelity, rungs: rungs.count)
                return ([pending(next, phase: .dev, items: rungs[bracket])], .proposed)
            }
        }
        if !pendingDev.isEmpty { return ([], .wait) }
        let standing = SearchRun(search: search, previous: state.finished, onTrial: { _, _ in })
        let leaders = standing.chooseLeaders()
        // Leaders found on fewer items (halving) are scored on the whole split before any is held out.
        let unfinished = leaders.map { pending($0, phase: .dev, items: devItems) }.filter { !known.contains($0.identity) }
        if !unfinished.isEmpty { return (unfinished, .proposed) }
        guard evaluator.holdoutItems > 0 else { return ([], .done) }
        // The leaders, and the cheapest configuration as the baseline the winner is compared with.
        var heldOut = leaders
        if let cheapest = plan.cheapest.flatMap({ plan.encoded.index(of: $0.configuration) }), !heldOut.contains(cheapest) { heldOut.append(cheapest) }
        let missing = heldOut.map { pending($0, phase: .holdout, items: evaluator.holdoutItems) }.filter { !known.contains($0.identity) }
        if !missing.isEmpty { return (missing, .proposed) }
        return ([], state.pending.isEmpty ? .done : .wait)
    }

    /// The bracket (first rung) of the study's k-th configuration. Hyperband's
    /// brackets share the configurations as its synchronous form does: eta^(R−1−b)
    /// start on rung b for every one that starts on the top rung (9, 3, 1 for
    /// three rungs and eta 3), in a fixed cycle; successive halving starts every one on the first.
    static func bracket(ofConfiguration k: Int, fidelity: Fidelity, rungs: Int) -> Int {
        guard case .hyperband(let eta, _) = fidelity, rungs > 1 else { return 0 }
        let weights = (0..<rungs).map { Int(pow(Double(max(2, eta)), Double(rungs - 1 - $0))) }
        var position = k % weights.reduce(0, +)
        for (bracket, weight) in weights.enumerated() {
            if position < weight { return bracket }
            position -= weight
        }
        return 0
    }

    /// Asynchronous successive halving: from the top rung down, the best
    /// configuration among the top ⌊n/eta⌋ of the n finished on a rung that
    /// is not yet on (or queued for) the next. Decided on what has finished
    /// so far, so no worker waits for a rung to fill; the leaders' final
    /// scoring on the whole split bounds what an early promotion costs.
    static func promotion(
        rungs: [Int], eta: Int, finished: [TrialRecord], known: Set<String>, index: (Configuration) -> Int?
    ) -> (index: Int, items: Int)? {
        guard rungs.count > 1 else { return nil }
        for rung in (0..<(rungs.count - 1)).reversed() {
            let scored = finished.compactMap { record -> (index: Int, objective: Double, record: TrialRecord)? in
                guard record.fidelity == rungs[rung], record.status == .complete, let objective = record.objective,
                    let position = index(record.configuration)
                else { return nil }
                return (position, objective, record)
            }
            let best = scored.sorted { $0.objective != $1.objective ? $0.objective > $1.objective : $0.index < $1.index }
            for candidate in best.prefix(best.count / max(2, eta)) {
                // Not on any higher rung yet (a leader may have gone straight to the whole split).
                let higher = rungs[(rung + 1)...].map { TrialKey(.dev, $0, candidate.record.configuration).description }
                if !higher.contains(where: known.contains) { return (candidate.index, rungs[rung + 1]) }
            }
        }
        return nil
    }

    func pending(_ index: Int, phase: TrialPhase, items: Int) -> PendingTrial {
        let configured = search.plan.feasible[index]
        return PendingTrial(
            configuration: configured.configuration, phase: phase, fidelity: items, staticCalls: SearchPlan.calls(configured),
            staticUSD: SearchPlan.usd(configured))
    }

    /// Evaluates a claimed trial, or its claimed range of items, while a
    /// heartbeat keeps its lease (a lost lease cancels the evaluation); the
    /// worker that finishes a trial's last unit records the trial. False
    /// when a limit stopped the search.
    func evaluate(_ claim: ClaimedTrial) async throws -> Bool {
        let plan = search.plan
        guard let index = plan.encoded.index(of: claim.trial.configuration) else {
            // Proposed by a worker with another space: not this worker's to judge.
            try await store.release(claim, worker: options.id)
            throw SharedSearchUnsupported(description: "trial \(claim.trial.identity) is not a feasible configuration of this space")
        }
        let configured = plan.feasible[index]
        let meter = meter, ledger = ledger
        let evaluator = search.evaluator
        let store = store, id = options.id, ttl = options.leaseTTL
        let held = await options.holdingLease {
            guard try await store.renew(claim, worker: id, ttl: ttl) else { return false }
            try await ledger.refresh()
            return true
        } _: {
            claim.isWholeTrial
                ? try await evaluator.evaluate(configured, phase: claim.trial.phase, items: claim.trial.fidelity, meter: meter)
                : try await evaluator.evaluate(configured, phase: claim.trial.phase, range: claim.items, meter: meter)
        }
        // The lease was lost: another worker owns the trial now, and what this one finished stays in the run store for it.
        guard let result = held else {
            try await ledger.settle()
            return true
        }
        var part = TrialPart(items: claim.items, outcome: nil, error: nil)
        switch result {
        case .success(let outcome):
            part.outcome = outcome
        case .failure(let stopped as SearchStopped):
            try await ledger.settle(calls: stopped.calls, usd: stopped.usd)
            try await store.release(claim, worker: options.id)
            stopReason = stopped.reason
            try await store.stop(study: studyID, reason: stopped.reason)
            return false
        case .failure(let error) where error is CancellationError || Task.isCancelled:
            // Given back from a task of its own: this one is cancelled, and so would be the release.
            let id = options.id
            await Task { try? await store.release(claim, worker: id) }.value
            _ = try? await ledger.settle()
            throw CancellationError()
        case .failure(let error):
            part.error = "\(error)"
        }
        // A failed part's items said what they spent; a finished one's outcome has the rest, if any.
        try await ledger.settle(calls: part.outcome?.issuedCalls ?? 0, usd: part.outcome?.usd ?? 0)
        let scoring = scoring
        let completion = try await store.complete(claim, part: part, worker: options.id, study: studyID) { parts in
            var record = TrialRecord(
                number: 0, configuration: configured.configuration, phase: claim.trial.phase, fidelity: claim.trial.fidelity, status: .complete,
                outcome: nil, error: nil, objective: nil, staticCalls: claim.trial.staticCalls, staticUSD: claim.trial.staticUSD)
            record.finishedAt = Date()
            if let failed = parts.first(where: { $0.outcome == nil }) {
                record.status = .failed
                record.error = parts.count == 1 ? failed.error : "items \(failed.items): \(failed.error ?? "no outcome")"
            } else {
                let outcome = TrialOutcome.combining(parts.compactMap(\.outcome))
                record.outcome = outcome
                record.objective = scoring.objective(outcome, index: index)
            }
            return record
        }
        if case .recorded(let record) = completion {
            trialsRun += 1
            onTrial(record, false)
        }
        return true
    }
}
