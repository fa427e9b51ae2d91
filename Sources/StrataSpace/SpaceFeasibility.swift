import Dispatch
import StrataDiagnostics

/// Configurations that fail for one reason: how many, and one example.
public struct InfeasibleReason: Sendable {
    /// The diagnostic the compiler reported.
    public var code: DiagnosticCode
    /// Its message.
    public var message: String
    /// How many configurations failed for it.
    public var count: Int
    /// One configuration that failed for it.
    public var example: ConfiguredPipeline
}

/// Infeasible configurations grouped by their first error.
package struct InfeasibleTally: Sendable {
    private var byKey: [String: InfeasibleReason] = [:]
    private var order: [String] = []

    package init() {}

    package mutating func add(_ configured: ConfiguredPipeline) {
        guard let first = configured.diagnostics.first(where: { $0.severity == .error }) else { return }
        // Budget messages carry numbers; group them by code alone.
        let key = first.code == .budgetExceeded ? first.code.rawValue : first.code.rawValue + first.message
        if byKey[key] == nil {
            byKey[key] = InfeasibleReason(
                code: first.code, message: first.code == .budgetExceeded ? first.code.summary : first.message,
                count: 0, example: configured)
            order.append(key)
        }
        byKey[key]!.count += 1
    }

    package var reasons: [InfeasibleReason] { order.map { byKey[$0]! }.sorted { $0.count > $1.count } }
}

/// Whether a space can yield anything, decided without compiling all of it.
package enum SpaceFeasibility {
    /// Whether `space` has a feasible configuration, found without compiling
    /// all of it: a space no larger than `limit` is compiled whole; a larger
    /// one is sampled (distinct configurations drawn by a seeded walk over its
    /// axes, never listing the grid) until one is feasible, at most `limit` of
    /// them and for at most `seconds`, so `strata check` stays fast on a space
    /// of 200,000 configurations. Returns E065 when every configuration was
    /// compiled and none is feasible, W066 when only a sample was, and nil
    /// when one is feasible.
    package static func diagnostic(
        space: SearchSpace, budget: QueryBudget = QueryBudget(), limit: Int = 500,
        seconds: Double = 0.5
    ) -> (Diagnostic, sources: SourceMap)? {
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
            return (
                Diagnostic(
                    .noFeasibleConfiguration, "none of the \(compiled) configurations of '\(space.name)' passes the checker and the budget",
                    at: .startOf(space.source.path), notes: Array(notes)), sources
            )
        }
        return (
            Diagnostic(
                .feasibilityUnproven, "none of \(compiled) configurations of '\(space.name)' drawn across its axes passes the checker and the budget",
                at: .startOf(space.source.path),
                notes: Array(notes) + [DiagnosticNote("`strata search --dry-run` compiles every configuration and says whether any is feasible")]), sources
        )
    }
}
