import StrataChecker
import StrataSyntax

extension ExecutionGraph {
    /// The fewest calls a query can make: an early-stopping vote's ensemble at
    /// the fewest samples its rule can stop at, an ensemble's quorum, a
    /// cascade's first branch, a match's cheapest branch; every other call
    /// counted. With `worstCaseCallNodes`, the range a query's cost falls in.
    package var fewestCalls: Int {
        var perLayer: [Int: Int] = [:]
        for node in nodes where node.operation.isCall { perLayer[node.layer, default: 0] += 1 }
        var total = 0
        for (position, layer) in layers.enumerated() {
            var calls = perLayer[layer.index] ?? 0
            if layer.kind == .ensemble, let quorum = layer.quorum { calls = min(calls, quorum) }
            if layer.kind == .ensemble, position + 1 < layers.count, let rule = layers[position + 1].earlyStop {
                calls = min(calls, rule.fewestDraws(samples: calls))
            }
            if let branches = routes[layer.index] {
                let fewest = branches.map(\.graph.fewestCalls)
                calls = if case .cascade? = layer.route { fewest.first ?? 0 } else { fewest.min() ?? 0 }
                if classifiers[layer.index] != nil { calls += 1 }
            }
            total += calls
        }
        return total
    }
}
