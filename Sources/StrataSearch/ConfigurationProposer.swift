import StrataSpace

/// What a proposer says about the next configuration to explore.
enum Proposal: Sendable, Equatable {
    /// Explore the feasible configuration at this index next.
    case configuration(Int)
    /// Nothing to propose until trials in flight finish (a walk needs their scores).
    case wait
    /// Nothing is left to explore.
    case exhausted
}

/// Chooses the next configuration of a study from the study alone, so that
/// every worker, and every rerun, proposes the same way from the same state.
protocol ConfigurationProposer: Sendable {
    func propose(_ view: StudyView) -> Proposal
}

/// Random, grid and TPE proposals. Proposal k of a study draws from a
/// generator seeded with (seed, k): workers sharing a seed never propose in
/// lockstep, and a resumed study draws what it would have drawn.
struct SamplerProposer: ConfigurationProposer {
    let plan: SearchPlan
    let settings: SearchSettings

    func propose(_ view: StudyView) -> Proposal {
        let excluded = view.tried.union(view.inFlight)
        var rng = SeededGenerator(seed: settings.seed &+ UInt64(excluded.count) &* 0xD1B5_4A32_D192_ED03)
        let history = view.history(plan: plan)
        let next: Int?
        switch settings.algorithm {
        case .tpe:
            var sampler = TPESampler(encoded: plan.encoded)
            // Configurations in flight elsewhere count as bad, so workers do not crowd one region.
            sampler.pending = view.inFlight
            next = sampler.next(history: history, excluded: excluded, rng: &rng)
        case .grid:
            var sampler = GridSampler(count: plan.encoded.count)
            next = sampler.next(history: history, excluded: excluded, rng: &rng)
        case .random, .greedy:
            var sampler = RandomSampler(count: plan.encoded.count)
            next = sampler.next(history: history, excluded: excluded, rng: &rng)
        }
        return next.map(Proposal.configuration) ?? .exhausted
    }
}
