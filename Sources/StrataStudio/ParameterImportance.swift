import Foundation

/// How much of a study's objective each axis explains on its own: the
/// first-order (main-effect) variance decomposition that fANOVA reports,
/// estimated directly from the trials instead of from a fitted forest. For
/// an axis, the trials are grouped by its value (an axis a configuration
/// lacks is a group of its own); the variance of the group means, weighted
/// by group size, over the objective's total variance is its share. Shares
/// need not sum to one: what is left is interaction and noise. A numeric
/// axis with more distinct values than a quarter of the trials is put into
/// five bins of equal count first: with a group per trial, any axis would
/// "explain" everything.
package enum ParameterImportance {
    package struct Share: Sendable, Codable, Hashable {
        package var axis: String
        /// Between 0 and 1.
        package var share: Double
        /// Distinct values the axis took among the trials.
        package var values: Int
    }

    /// Shares for `axes` from `(configuration, objective)` pairs, largest first; empty with fewer than three trials
    /// or an objective that never varies.
    package static func shares(axes: [String], trials: [(configuration: [String: String], objective: Double)]) -> [Share] {
        guard trials.count >= 3 else { return [] }
        let mean = trials.reduce(0) { $0 + $1.objective } / Double(trials.count)
        let total = trials.reduce(0) { $0 + ($1.objective - mean) * ($1.objective - mean) } / Double(trials.count)
        guard total > 1e-12 else { return [] }
        return axes.map { axis in
            let bin = bins(axis: axis, trials: trials)
            var groups: [String: (sum: Double, count: Int)] = [:]
            for trial in trials {
                let key = trial.configuration[axis].map(bin) ?? "\u{0}absent"
                groups[key, default: (0, 0)].sum += trial.objective
                groups[key, default: (0, 0)].count += 1
            }
            let between =
                groups.values.reduce(0) { partial, group in
                    let groupMean = group.sum / Double(group.count)
                    return partial + Double(group.count) * (groupMean - mean) * (groupMean - mean)
                } / Double(trials.count)
            return Share(axis: axis, share: min(1, between / total), values: groups.count)
        }.sorted { ($0.share, $1.axis) > ($1.share, $0.axis) }
    }

    /// The group a value falls in: itself, or for a numeric axis with many values its quintile.
    private static func bins(axis: String, trials: [(configuration: [String: String], objective: Double)]) -> (String) -> String {
        let values = Set(trials.compactMap { $0.configuration[axis] })
        let numbers = values.compactMap(Double.init).sorted()
        guard values.count > max(5, trials.count / 4), numbers.count == values.count else { return { $0 } }
        let edges = (1..<5).map { numbers[numbers.count * $0 / 5] }
        return { value in
            guard let number = Double(value) else { return value }
            return "bin \(edges.filter { number >= $0 }.count)"
        }
    }
}
