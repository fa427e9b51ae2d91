import Foundation
import StrataSpace

/// A study's standings, computed from its trial records alone: what every
/// worker of a study, and every rerun of it, agrees on because it reads the
/// same records.
struct Leaderboard {
    let plan: SearchPlan
    let settings: SearchSettings
    let records: [TrialRecord]

    /// The objective the optimizer sees (higher is better) for `outcome` of the configuration at `index`.
    static func objective(_ outcome: TrialOutcome, index: Int, plan: SearchPlan, settings: SearchSettings) -> Double {
        guard case .penalized(let lambda, let measure) = settings.objective else { return outcome.score }
        // Calls as observed (cache hits included), so a configuration that spends
        // less than its worst case — a vote that stops early — is credited for it.
        if measure == .calls, outcome.items > 0 { return outcome.score - lambda * Double(outcome.requestedCalls) / Double(outcome.items) }
        return outcome.score - lambda * cost(of: index, measure: measure, plan: plan)
    }

    static func cost(of index: Int, measure: CostMeasure, plan: SearchPlan) -> Double {
        measure == .calls ? Double(SearchPlan.calls(plan.feasible[index])) : SearchPlan.usd(plan.feasible[index])
    }

    /// The best record so far of each evaluated configuration (most items,
    /// then latest), ranked by items first: a score on the whole split beats
    /// a luckier one on a few items, which is what halving promotes by.
    func standings() -> [(index: Int, record: TrialRecord)] {
        var best: [Int: TrialRecord] = [:]
        for record in records where record.phase == .dev && record.status == .complete {
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
            (index: standing.index, score: standing.record.outcome?.score ?? 0, cost: Self.cost(of: standing.index, measure: measure, plan: plan))
        }
        return Set(
            points.filter { point in
                !points.contains { other in
                    other.score >= point.score && other.cost <= point.cost && (other.score > point.score || other.cost < point.cost)
                }
            }.map(\.index))
    }

    /// The configurations scored on the whole search split and held out at
    /// the end: the best by standing (on the Pareto front, for a Pareto
    /// objective), best first.
    func leaders() -> [Int] {
        let standings = standings()
        var chosen = standings.map(\.index)
        if case .pareto = settings.objective {
            let front = paretoFront(standings)
            chosen = chosen.filter(front.contains)
        }
        return Array(chosen.prefix(settings.leaders))
    }

    /// The leaderboard entries, and the leaders' (best first; the best so far alone after an early stop).
    func entries(holdoutItems: Int, stopped: Bool) -> (leaderboard: [LeaderboardEntry], leaders: [LeaderboardEntry]) {
        let standings = standings()
        let front = paretoFront(standings)
        var byIdentity: [String: TrialRecord] = [:]
        for record in records { byIdentity[record.identity] = record }
        func entry(_ index: Int, _ record: TrialRecord) -> LeaderboardEntry {
            let holdout = byIdentity[TrialKey(.holdout, holdoutItems, record.configuration).description]
            return LeaderboardEntry(configured: plan.feasible[index], dev: record, holdout: holdout, onParetoFront: front.contains(index))
        }
        let leaderboard = standings.map { entry($0.index, $0.record) }
        // After an early stop the leaders were not re-evaluated: the best so far stands.
        guard !stopped else { return (leaderboard, Array(leaderboard.prefix(1))) }
        let order = standings.map(\.index)
        let leaders = leaders().sorted { (order.firstIndex(of: $0) ?? .max) < (order.firstIndex(of: $1) ?? .max) }
        let entries = leaders.compactMap { index in standings.first { $0.index == index }.map { entry($0.index, $0.record) } }
        return (leaderboard, entries.isEmpty ? Array(leaderboard.prefix(1)) : entries)
    }
}
