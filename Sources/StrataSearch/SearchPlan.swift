import Dispatch
import StrataDiagnostics

/// The space checked before anything is spent: every configuration compiled,
/// the feasible ones kept, the rest counted by the reason they fail.
public struct SearchPlan: Sendable {
    public let space: SearchSpace
    public let budget: QueryBudget
    /// Every configuration of the space.
    public let size: Int
    /// Those that pass the checker and the per-query budget, in grid order.
    public let feasible: [ConfiguredPipeline]
    /// Infeasible configurations by diagnostic code and message, with one example each.
    public let infeasibleReasons: [InfeasibleReason]
    let encoded: EncodedSpace

    public struct InfeasibleReason: Sendable {
        public var code: DiagnosticCode
        public var message: String
        public var count: Int
        public var example: ConfiguredPipeline
    }

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

    /// Infeasible configurations grouped by their first error.
    struct InfeasibleTally {
        private var byKey: [String: InfeasibleReason] = [:]
        private var order: [String] = []

        mutating func add(_ configured: ConfiguredPipeline) {
            guard let first = configured.diagnostics.first(where: { $0.severity == .error }) else { return }
            // Budget messages carry numbers; group them by code alone.
            let key = first.code == .budgetExceeded ? first.code.rawValue : first.code.rawValue + first.message
            if byKey[key] == nil {
                byKey[key] = InfeasibleReason(code: first.code, message: first.code == .budgetExceeded ? first.code.summary : first.message,
                                                count: 0, example: configured)
                order.append(key)
            }
            byKey[key]!.count += 1
        }

        var reasons: [InfeasibleReason] { order.map { byKey[$0]! }.sorted { $0.count > $1.count } }
    }

    /// Whether `space` has a feasible configuration, found without compiling
    /// all of it: a space no larger than `limit` is compiled whole; a larger
    /// one is sampled (distinct configurations drawn by a seeded walk over its
    /// axes, never listing the grid) until one is feasible, at most `limit` of
    /// them and for at most `seconds`, so `strata check` stays fast on a space
    /// of 200,000 configurations. Returns E065 when every configuration was
    /// compiled and none is feasible, W066 when only a sample was, and nil
    /// when one is feasible.
    public static func feasibilityDiagnostic(space: SearchSpace, budget: QueryBudget = QueryBudget(), limit: Int = 500,
                                             seconds: Double = 0.5) -> (Diagnostic, sources: SourceMap)? {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let compiler = ConfigurationCompiler(space: space, budget: budget)
        var gridBound = 1
        for axis in space.axes {
            let (product, overflow) = gridBound.multipliedReportingOverflow(by: max(1, axis.values.count))
            gridBound = overflow ? Int.max : product
        }
        let whole = gridBound <= limit
        let candidates = whole ? space.enumerate() : space.sample(limit)
        guard !candidates.isEmpty else { return nil }
        var tally = InfeasibleTally()
        var compiled = 0
        for configuration in candidates {
            let configured = compiler.compile(configuration)
            compiled += 1
            if configured.isFeasible { return nil }
            tally.add(configured)
            if DispatchTime.now().uptimeNanoseconds > deadline { break }
        }
        let reasons = tally.reasons
        let notes = reasons.prefix(3).map { DiagnosticNote("\($0.count) configuration(s): \($0.message)", at: $0.example.diagnostics.first?.range) }
        var sources = SourceMap()
        for reason in reasons { for file in reason.example.sources.all { sources.add(file) } }
        if whole, compiled == candidates.count {
            return (Diagnostic(.noFeasibleConfiguration, "none of the \(compiled) configurations of '\(space.name)' passes the checker and the budget",
                               at: .startOf(space.source.path), notes: Array(notes)), sources)
        }
        return (Diagnostic(.feasibilityUnproven, "none of \(compiled) configurations of '\(space.name)' drawn across its axes passes the checker and the budget",
                           at: .startOf(space.source.path),
                           notes: Array(notes) + [DiagnosticNote("`strata search --dry-run` compiles every configuration and says whether any is feasible")]), sources)
    }


    /// Static worst-case calls per query of a feasible configuration.
    static func calls(_ configured: ConfiguredPipeline) -> Int { configured.cost?.total.calls ?? 0 }
    static func usd(_ configured: ConfiguredPipeline) -> Double { configured.cost?.total.usd ?? 0 }

    /// The cheapest and the most expensive feasible configurations (by calls, then USD).
    public var cheapest: ConfiguredPipeline? { feasible.min { (Self.calls($0), Self.usd($0)) < (Self.calls($1), Self.usd($1)) } }
    public var mostExpensive: ConfiguredPipeline? { feasible.max { (Self.calls($0), Self.usd($0)) < (Self.calls($1), Self.usd($1)) } }

    /// The diagnostic for a space where nothing is feasible.
    public var emptinessDiagnostic: Diagnostic? {
        guard feasible.isEmpty else { return nil }
        let notes = infeasibleReasons.prefix(3).map { DiagnosticNote("\($0.count) configuration(s): \($0.message)", at: $0.example.diagnostics.first?.range) }
        return Diagnostic(.noFeasibleConfiguration, "none of the \(size) configurations of '\(space.name)' passes the checker and the budget",
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
