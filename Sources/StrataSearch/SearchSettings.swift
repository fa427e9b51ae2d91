import Foundation
import StrataSpace

/// What the optimizer maximizes.
public enum Objective: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The mean score.
    case score
    /// score − λ · cost, cost being the static worst case per query.
    case penalized(lambda: Double, cost: CostMeasure)
    /// Score and cost both: the optimizer maximizes score, and the leaders
    /// re-evaluated at the end are the Pareto front of score vs cost.
    case pareto(cost: CostMeasure)

    /// The algorithm's name as the CLI spells it.
    public var description: String {
        switch self {
        case .score: "score"
        case .penalized(let lambda, let cost): "score − \(lambda)·\(cost.rawValue)"
        case .pareto(let cost): "Pareto front of score vs \(cost.rawValue)"
        }
    }

    var costMeasure: CostMeasure? {
        switch self {
        case .score: nil
        case .penalized(_, let cost), .pareto(let cost): cost
        }
    }
}

/// How the cost of a configuration is counted (statically, per query).
public enum CostMeasure: String, Sendable, Hashable, Codable, CaseIterable {
    case calls, usd
}

/// How many items a trial is scored on.
public enum Fidelity: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Every trial on the whole search split.
    case full
    /// Successive halving: batches of configurations start on `minItems`
    /// items; the best 1/eta go on to eta times as many, up to the whole split.
    case halving(eta: Int, minItems: Int)
    /// Hyperband: successive-halving brackets that trade many configurations on
    /// few items against few configurations on many, in turn.
    case hyperband(eta: Int, minItems: Int)

    /// The fidelity's name as the CLI spells it.
    public var description: String {
        switch self {
        case .full: "full"
        case .halving(let eta, let minItems): "successive halving (eta \(eta), from \(minItems) items)"
        case .hyperband(let eta, let minItems): "hyperband (eta \(eta), from \(minItems) items)"
        }
    }

    /// The item counts of the rungs, smallest first, ending at `total`.
    public func rungs(total: Int) -> [Int] {
        switch self {
        case .full: return [total]
        case .halving(let eta, let minItems), .hyperband(let eta, let minItems):
            // Down from the whole split, dividing by eta while a rung keeps at least minItems:
            // 30 items, eta 3, from 3 gives 3, 10, 30 (not 3, 9, 27, 30).
            var rungs = [total]
            var items = Double(total)
            while items / Double(max(2, eta)) >= Double(max(1, minItems)) {
                items /= Double(max(2, eta))
                rungs.insert(Int(items.rounded(.down)), at: 0)
            }
            return rungs
        }
    }
}

/// Limits on the whole search. When one is reached the search stops cleanly
/// and reports the best configuration so far.
public struct SearchLimits: Sendable, Hashable, Codable {
    /// Model calls actually sent (cache hits are free).
    public var calls: Int?
    /// Stop after spending this many US dollars.
    public var usd: Double?
    /// Stop after this many wall-clock seconds.
    public var seconds: Double?
    /// Distinct configurations to try.
    public var trials: Int?

    /// Limits on the search as a whole; nil means no limit.
    public init(calls: Int? = nil, usd: Double? = nil, seconds: Double? = nil, trials: Int? = nil) {
        self.calls = calls
        self.usd = usd
        self.seconds = seconds
        self.trials = trials
    }
}

/// Everything that shapes a search.
public struct SearchSettings: Sendable, Hashable, Codable {
    /// How configurations are proposed.
    public var algorithm: SearchAlgorithm
    /// The seed of every random choice, so a search can be repeated exactly.
    public var seed: UInt64
    /// How many items a trial is scored on: all of them, or rungs of halving.
    public var fidelity: Fidelity
    /// What is maximised: the score alone, or the score against its cost.
    public var objective: Objective
    /// When the search stops.
    public var limits: SearchLimits
    /// How many of the best configurations are re-evaluated on the whole
    /// search split and then on the held-out split.
    public var leaders: Int

    /// Settings for a search; the defaults are a random search at full fidelity maximising the score.
    public init(
        algorithm: SearchAlgorithm = .tpe, seed: UInt64 = 0, fidelity: Fidelity = .full, objective: Objective = .score,
        limits: SearchLimits = SearchLimits(), leaders: Int = 3
    ) {
        self.algorithm = algorithm
        self.seed = seed
        self.fidelity = fidelity
        self.objective = objective
        self.limits = limits
        self.leaders = max(1, leaders)
    }
}
