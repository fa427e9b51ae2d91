import Foundation
import StrataChecker
import StrataCompiler
import StrataDiagnostics
import StrataSyntax
import StrataYAML

/// Per-query limits a configuration must meet to be evaluated at all. They
/// are checked statically by the compiler (a configuration over budget is
/// never run), and override the space's and the template's `budget:`.
public struct QueryBudget: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Worst-case model calls per query.
    public var calls: Int?
    /// Worst-case US dollars per query.
    public var usd: Double?
    /// Critical-path seconds per query.
    public var latencySeconds: Double?
    /// Worst-case input tokens per query.
    public var inputTokens: Int?
    /// Worst-case output tokens per query.
    public var outputTokens: Int?

    /// A budget; nil leaves a measure unlimited.
    public init(calls: Int? = nil, usd: Double? = nil, latencySeconds: Double? = nil, inputTokens: Int? = nil, outputTokens: Int? = nil) {
        self.calls = calls
        self.usd = usd
        self.latencySeconds = latencySeconds
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }

    /// "calls 10, usd 0.5", or empty.
    public var description: String { entries.map { "\($0.0) \($0.1)" }.joined(separator: ", ") }

    var entries: [(String, String)] {
        var result: [(String, String)] = []
        if let calls { result.append(("calls", String(calls))) }
        if let usd { result.append(("usd", String(usd))) }
        if let latencySeconds { result.append(("latency_s", String(latencySeconds))) }
        if let inputTokens { result.append(("input_tokens", String(inputTokens))) }
        if let outputTokens { result.append(("output_tokens", String(outputTokens))) }
        return result
    }
}

/// One configuration of a space, filled in, checked and compiled.
public struct ConfiguredPipeline: Sendable {
    /// The axis values it was written from.
    public var configuration: Configuration
    /// The filled template (nil when filling it failed).
    package var tree: YAMLNode?
    /// The checked pipeline, when the configuration passes the checker.
    package var pipeline: CheckedPipeline?
    /// The static worst-case cost per query, when it compiled.
    public var cost: CostSummary?
    /// Errors and warnings, pointing into the search file (and included files).
    public var diagnostics: [Diagnostic]
    /// The generated pipeline text and its includes, for rendering diagnostics.
    public var sources: SourceMap

    /// Passes the checker and the per-query budget: the only configurations a search runs.
    public var isFeasible: Bool { pipeline != nil && cost != nil && !diagnostics.containsErrors }
}

/// Turns configurations into checked, compiled pipelines. Included files are
/// read and parsed once and shared by every configuration.
package final class ConfigurationCompiler: Sendable {
    package let space: SearchSpace
    package let budget: QueryBudget
    private let loader: SourceLoader

    package init(space: SearchSpace, budget: QueryBudget = QueryBudget()) {
        self.space = space
        self.budget = budget
        self.loader = SourceLoader(includeRoots: space.includeRoots, includeCache: IncludeCache())
    }

    /// Fills the template with `configuration`, then checks and compiles it
    /// with the per-query budget; infeasible configurations keep their diagnostics.
    package func compile(_ configuration: Configuration) -> ConfiguredPipeline {
        var result = ConfiguredPipeline(configuration: configuration, tree: nil, pipeline: nil, cost: nil, diagnostics: [], sources: SourceMap())
        result.sources.add(space.source)
        let filled: YAMLNode
        do {
            filled = try TemplateExpander.expand(space.template, bindings: configuration.values)
        } catch {
            result.diagnostics = [error.diagnostic]
            return result
        }
        let tree = withBudgetAndVersion(filled)
        result.tree = tree
        let compiled = PipelineCompiler(loader: loader).compile(loader.load(tree: tree, source: space.source))
        result.sources = compiled.sources
        result.diagnostics = compiled.diagnostics
        result.pipeline = compiled.estimate?.pipeline
        result.cost = compiled.estimate?.cost
        return result
    }

    /// The template's own `budget:`, then the space's, then the caller's, merged
    /// key by key; and `strata: 1` when the template leaves it out.
    private func withBudgetAndVersion(_ tree: YAMLNode) -> YAMLNode {
        guard case .mapping(var pairs) = tree.content else { return tree }
        let range = tree.range
        func scalar(_ text: String, at range: SourceRange) -> YAMLNode { YAMLNode(.scalar(.init(value: text, style: .plain)), range: range) }
        if !pairs.contains(where: { $0.key.scalar?.value == "strata" }) {
            pairs.insert(YAMLNode.Pair(key: scalar("strata", at: range), value: scalar(String(PipelineDecoder.currentVersion), at: range)), at: 0)
        }
        var budgetPairs: [YAMLNode.Pair] = []
        var budgetRange = space.budget?.range ?? range
        func merge(_ key: YAMLNode, _ value: YAMLNode) {
            if let index = budgetPairs.firstIndex(where: { $0.key.scalar?.value == key.scalar?.value }) {
                budgetPairs[index] = YAMLNode.Pair(key: key, value: value)
            } else {
                budgetPairs.append(YAMLNode.Pair(key: key, value: value))
            }
        }
        if let index = pairs.firstIndex(where: { $0.key.scalar?.value == "budget" }) {
            if case .mapping(let own) = pairs[index].value.content { own.forEach { merge($0.key, $0.value) } }
            budgetRange = pairs[index].value.range
            pairs.remove(at: index)
        }
        if let spaceBudget = space.budget, case .mapping(let own) = spaceBudget.content { own.forEach { merge($0.key, $0.value) } }
        for (key, value) in budget.entries { merge(scalar(key, at: budgetRange), scalar(value, at: budgetRange)) }
        if !budgetPairs.isEmpty {
            let layersIndex = pairs.firstIndex(where: { $0.key.scalar?.value == "layers" }) ?? pairs.count
            pairs.insert(YAMLNode.Pair(key: scalar("budget", at: budgetRange), value: YAMLNode(.mapping(budgetPairs), range: budgetRange)), at: layersIndex)
        }
        return YAMLNode(.mapping(pairs), range: range)
    }
}
