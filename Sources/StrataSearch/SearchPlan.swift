import StrataDiagnostics
import StrataSpace

/// The space checked before anything is spent: every configuration compiled,
/// the feasible ones kept, the rest counted by the reason they fail.
public struct SearchPlan: Sendable {
    /// The space of configurations.
    public let space: SearchSpace
    /// The per-query budget every configuration must fit.
    public let budget: QueryBudget
    /// Every configuration of the space.
    public let size: Int
    /// Those that pass the checker and the per-query budget, in grid order.
    public let feasible: [ConfiguredPipeline]
    /// Infeasible configurations by diagnostic code and message, with one example each.
    public let infeasibleReasons: [InfeasibleReason]
    let encoded: EncodedSpace

    /// Compiles every configuration of `space`.
    public init(space: SearchSpace, budget: QueryBudget = QueryBudget()) {
        let compiler = ConfigurationCompiler(space: space, budget: budget)
        let all = space.enumerate()
        var feasible: [ConfiguredPipeline] = []
        var tally = InfeasibleTally()
        for configuration in all {
            let configured = compiler.compile(configuration)
            if configured.isFeasible { feasible.append(configured) } else { tally.add(configured) }
        }
        self.space = space
        self.budget = budget
        self.size = all.count
        self.feasible = feasible
        self.infeasibleReasons = tally.reasons
        self.encoded = EncodedSpace(axes: space.axes, configurations: feasible.map(\.configuration))
    }

    /// Static worst-case calls per query of a feasible configuration.
    static func calls(_ configured: ConfiguredPipeline) -> Int { configured.cost?.total.calls ?? 0 }
    static func usd(_ configured: ConfiguredPipeline) -> Double { configured.cost?.total.usd ?? 0 }

    /// The cheapest and the most expensive feasible configurations (by calls, then USD).
    public var cheapest: ConfiguredPipeline? { feasible.min { (Self.calls($0), Self.usd($0)) < (Self.calls($1), Self.usd($1)) } }
    /// The feasible configuration with the most worst-case calls (then dollars) per query.
    public var mostExpensive: ConfiguredPipeline? { feasible.max { (Self.calls($0), Self.usd($0)) < (Self.calls($1), Self.usd($1)) } }

    /// The diagnostic for a space where nothing is feasible.
    public var emptinessDiagnostic: Diagnostic? {
        guard feasible.isEmpty else { return nil }
        let notes = infeasibleReasons.prefix(3).map { DiagnosticNote("\($0.count) configuration(s): \($0.message)", at: $0.example.diagnostics.first?.range) }
        return Diagnostic(
            .noFeasibleConfiguration, "none of the \(size) configurations of '\(space.name)' passes the checker and the budget",
            at: .startOf(space.source.path), notes: Array(notes))
    }

    /// An upper bound on the model calls the search can send, before the cache
    /// and before any search-wide limit: every planned evaluation at the most
    /// expensive feasible configuration's worst case.
    public func projectedWorstCaseCalls(settings: SearchSettings, devItems: Int, holdoutItems: Int) -> Int {
        let perQuery = mostExpensive.map(Self.calls) ?? 0
        let trials = min(settings.limits.trials ?? feasible.count, feasible.count)
        var itemsEvaluated = 0
        switch settings.fidelity {
        case .full:
            itemsEvaluated = trials * devItems
        case .halving(let eta, _), .hyperband(let eta, _):
            // Each configuration starts at the first rung; 1/eta of them go on to each next rung.
            let rungs = settings.fidelity.rungs(total: devItems)
            var survivors = Double(trials)
            var previous = 0
            for rung in rungs {
                itemsEvaluated += Int(survivors.rounded(.up)) * (rung - previous)
                previous = rung
                survivors /= Double(max(2, eta))
            }
            itemsEvaluated += min(settings.leaders, trials) * devItems
        }
        itemsEvaluated += min(settings.leaders, trials) * holdoutItems
        let worst = itemsEvaluated * perQuery
        return settings.limits.calls.map { min($0, worst) } ?? worst
    }
}
