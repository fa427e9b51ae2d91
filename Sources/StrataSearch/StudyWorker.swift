import Foundation
import StrataEval
import StrataSpace
import Synchronization

/// A trial a worker cannot evaluate: one proposed by a worker with another space, or a range of items asked of an evaluator that scores only whole trials.
package struct SharedSearchUnsupported: Error, CustomStringConvertible {
    package var description: String
}

extension Search {
    /// Works on the study together with every other worker started on the
    /// same store: claims trials others proposed, proposes the next one under
    /// the study's lock when none is ready (TPE counting the trials in flight
    /// elsewhere as bad, so workers do not crowd one region), and when the
    /// space or the trial limit is exhausted, scores the leaders held out.
    /// Returns when the study is done, or a global limit is reached; every
    /// worker then reports the same study.
    package func runWorker(
        store: any SharedStudyStore, worker: WorkerOptions, onTrial: @escaping @Sendable (TrialRecord, Bool) -> Void = { _, _ in }
    ) async throws -> SearchResult {
        try await store.open(study)
        try await store.register(worker: worker.id, study: study.id)
        // A worker starting again (with higher limits, say) reopens a stopped study; its own limits decide anew.
        try await store.stop(study: study.id, reason: nil)
        let previous = try await store.trials(study: study.id)
        for record in previous { onTrial(record, true) }
        let loop = StudyWorker(search: self, store: store, options: worker, onTrial: onTrial)
        try await loop.work()
        let finished = try await store.trials(study: study.id)
        let (leaderboard, leaders) = Leaderboard(plan: plan, settings: settings, records: finished).entries(
            holdoutItems: evaluator.holdoutItems, stopped: loop.stopReason != nil)
        let outcomes = finished.compactMap(\.outcome)
        let spent = loop.meter.spent
        return SearchResult(
            study: study, settings: settings, spaceSize: plan.size, feasibleCount: plan.feasible.count, trials: finished,
            leaderboard: leaderboard, leaders: leaders, best: leaders.first, stopReason: loop.stopReason,
            trialsRun: loop.trialsRun, trialsReused: finished.count - loop.trialsRun,
            requestedCalls: outcomes.reduce(0) { $0 + $1.requestedCalls }, issuedCalls: spent.calls, usd: spent.usd, seconds: spent.seconds)
    }
}

/// The one worker loop of every search: claim a queued trial, else ask the
/// study's policy what to queue, else wait for others. Its vars are touched
/// only by `work()`, which awaits each step before the next.
final class StudyWorker: @unchecked Sendable {
    let search: Search
    let store: any SharedStudyStore
    let options: WorkerOptions
    let onTrial: @Sendable (TrialRecord, Bool) -> Void
    let meter: SpendMeter
    /// Publishes this worker's spend item by item, so the study's limits hold within an item.
    let ledger: SpendLedger
    let policy: any StudyPolicy
    var stopReason: String?
    var trialsRun = 0

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
        policy = search.rules.makePolicy()
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
            if let reason = try await ledger.refresh().stopReason {
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
            let decision = Mutex(StudyDecision.wait)
            // Trials split into ranges of items only for an evaluator that scores ranges.
            let unitItems = search.evaluator.scoresItemRanges ? options.unitItems : nil
            let policy = policy
            _ = try await store.propose(study: studyID, worker: options.id, unitItems: unitItems) { state in
                let next = policy.decide(state)
                decision.withLock { $0 = next }
                if case .queue(let trials) = next { return trials }
                return []
            }
            switch decision.withLock({ $0 }) {
            case .queue: continue
            case .wait: try await options.clock.sleep(for: .seconds(options.poll))
            case .done: return
            }
        }
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
        let settings = search.settings
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
                record.objective = Leaderboard.objective(outcome, index: index, plan: plan, settings: settings)
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
