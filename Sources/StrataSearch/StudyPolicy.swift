import Foundation
import StrataSpace

/// What a study needs next.
enum StudyDecision: Sendable, Equatable {
    /// Queue these trials (a worker claims them next).
    case queue([PendingTrial])
    /// Nothing to queue until trials in flight finish.
    case wait
    /// The study is finished.
    case done
}

/// Decides from the whole study, as its store holds it, what to evaluate
/// next. A pure function of the state: the same study gives the same
/// decision in one process or in many, which is why one worker loop runs
/// every search and a resumed search carries on where it stopped.
protocol StudyPolicy: Sendable {
    func decide(_ state: SharedStudyState) -> StudyDecision
}

/// What every policy reads: the space, the settings and the data's size.
struct StudyRules: Sendable {
    let plan: SearchPlan
    let settings: SearchSettings
    let devItems: Int
    let holdoutItems: Int
    /// Whether the space's cheapest configuration is held out too, as the baseline the winner is compared with.
    let holdsOutCheapest: Bool

    var maxConfigurations: Int { min(settings.limits.trials ?? plan.feasible.count, plan.feasible.count) }

    func pending(_ index: Int, phase: TrialPhase, items: Int) -> PendingTrial {
        let configured = plan.feasible[index]
        return PendingTrial(
            configuration: configured.configuration, phase: phase, fidelity: items, staticCalls: SearchPlan.calls(configured),
            staticUSD: SearchPlan.usd(configured))
    }

    func makePolicy() -> any StudyPolicy {
        let proposer: any ConfigurationProposer =
            settings.algorithm == .greedy ? GreedyWalk(plan: plan, seed: settings.seed) : SamplerProposer(plan: plan, settings: settings)
        switch settings.fidelity {
        case .full: return FullFidelityPolicy(rules: self, proposer: proposer)
        case .halving, .hyperband: return HalvingPolicy(rules: self, proposer: proposer)
        }
    }
}

/// The study so far as the policies read it.
struct StudyView {
    let finishedDev: [TrialRecord]
    let pendingDev: [PendingTrial]
    /// Every trial identity finished or queued: none is queued twice.
    let known: Set<String>
    /// Configurations with a finished dev trial, and those with one queued.
    let tried: Set<Int>
    let inFlight: [Int]

    init(_ state: SharedStudyState, plan: SearchPlan) {
        finishedDev = state.finished.filter { $0.phase == .dev }.sorted { $0.number < $1.number }
        pendingDev = state.pending.filter { $0.phase == .dev }
        known = Set(state.finished.map(\.identity) + state.pending.map(\.identity))
        tried = Set(finishedDev.compactMap { plan.encoded.index(of: $0.configuration) })
        inFlight = Array(Set(pendingDev.compactMap { plan.encoded.index(of: $0.configuration) })).sorted()
    }

    /// Configurations proposed so far (each is proposed once, however many rungs it reaches).
    var configurations: Int { tried.union(inFlight).count }

    /// The objectives the proposers learn from, in order of finishing; a failed trial counts as the worst seen before it.
    func history(plan: SearchPlan) -> [Observation] {
        var history: [Observation] = []
        var worst = 0.0
        for record in finishedDev {
            guard let index = plan.encoded.index(of: record.configuration) else { continue }
            let value = record.objective ?? worst
            worst = min(worst, value)
            history.append(Observation(index: index, value: value))
        }
        return history
    }
}

extension StudyRules {
    /// Once the exploration is over and every trial of it is in: the leaders on
    /// the whole search split, then held out (with the cheapest configuration
    /// when it is the baseline); then nothing.
    func endgame(_ state: SharedStudyState, _ view: StudyView) -> StudyDecision {
        if !view.pendingDev.isEmpty { return .wait }
        let leaders = Leaderboard(plan: plan, settings: settings, records: state.finished).leaders()
        // Leaders found on fewer items (halving) are scored on the whole split before any is held out.
        let unfinished = leaders.map { pending($0, phase: .dev, items: devItems) }.filter { !view.known.contains($0.identity) }
        if !unfinished.isEmpty { return .queue(unfinished) }
        guard holdoutItems > 0 else { return state.pending.isEmpty ? .done : .wait }
        var heldOut = leaders
        if holdsOutCheapest, let cheapest = plan.cheapest.flatMap({ plan.encoded.index(of: $0.configuration) }), !heldOut.contains(cheapest) {
            heldOut.append(cheapest)
        }
        let missing = heldOut.map { pending($0, phase: .holdout, items: holdoutItems) }.filter { !view.known.contains($0.identity) }
        if !missing.isEmpty { return .queue(missing) }
        return state.pending.isEmpty ? .done : .wait
    }
}

/// Every configuration on the whole search split.
struct FullFidelityPolicy: StudyPolicy {
    let rules: StudyRules
    let proposer: any ConfigurationProposer

    func decide(_ state: SharedStudyState) -> StudyDecision {
        guard rules.devItems > 0, !rules.plan.feasible.isEmpty else { return .done }
        let view = StudyView(state, plan: rules.plan)
        if view.configurations < rules.maxConfigurations {
            switch proposer.propose(view) {
            case .configuration(let index): return .queue([rules.pending(index, phase: .dev, items: rules.devItems)])
            case .wait: return .wait
            case .exhausted: break
            }
        }
        return rules.endgame(state, view)
    }
}

/// Successive halving and Hyperband as asynchronous brackets (ASHA): a
/// configuration goes up a rung as soon as it is in the top 1/eta of those
/// finished on its rung within its bracket, so no worker waits for a rung
/// to fill; the leaders' final scoring on the whole split bounds what an
/// early promotion costs.
struct HalvingPolicy: StudyPolicy {
    let rules: StudyRules
    let proposer: any ConfigurationProposer

    var eta: Int {
        switch rules.settings.fidelity {
        case .halving(let eta, _), .hyperband(let eta, _): max(2, eta)
        case .full: 2
        }
    }

    func decide(_ state: SharedStudyState) -> StudyDecision {
        guard rules.devItems > 0, !rules.plan.feasible.isEmpty else { return .done }
        let plan = rules.plan
        let view = StudyView(state, plan: plan)
        let rungs = rules.settings.fidelity.rungs(total: rules.devItems)
        // A configuration's bracket is the rung it started on: its fewest items, finished or queued.
        var firstRung: [String: Int] = [:]
        for trial in view.finishedDev.map(PendingTrial.init) + view.pendingDev {
            let rung = rungs.firstIndex(of: trial.fidelity) ?? rungs.count - 1
            firstRung[trial.configuration.key] = min(firstRung[trial.configuration.key] ?? rung, rung)
        }
        for bracket in 0..<rungs.count {
            let members = view.finishedDev.filter { firstRung[$0.configuration.key] == bracket }
            if let promoted = Self.promotion(rungs: rungs, eta: eta, finished: members, known: view.known, index: plan.encoded.index(of:)) {
                return .queue([rules.pending(promoted.index, phase: .dev, items: promoted.items)])
            }
        }
        if view.configurations < rules.maxConfigurations {
            switch proposer.propose(view) {
            case .configuration(let index):
                let bracket = Self.bracket(ofConfiguration: view.configurations, fidelity: rules.settings.fidelity, rungs: rungs.count)
                return .queue([rules.pending(index, phase: .dev, items: rungs[bracket])])
            case .wait: return .wait
            case .exhausted: break
            }
        }
        return rules.endgame(state, view)
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

    /// From the top rung down, the best configuration among the top ⌊n/eta⌋
    /// of the n finished on a rung that is not yet on (or queued for) the next.
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
}
