import Foundation
import StrataSpace

/// A tree-structured Parzen estimator over the feasible configurations.
///
/// Observations are split into the best γ and the rest; for every axis two
/// smoothed histograms, l (good) and g (rest), are built over its values —
/// ordered axes spread each observation to its neighbours, so evidence about
/// "5 samples" informs "4 samples"; an axis counts only where it is active,
/// which is how conditional axes are handled natively. Every unevaluated
/// feasible configuration is scored by Σ log l/g over its active axes and the
/// best is proposed (the space is finite and enumerated, so no sampling of
/// candidates is needed). The first `startup` proposals are random.
struct TPESampler: Sampler {
    let encoded: EncodedSpace
    var startup: Int
    var gamma: Double
    /// Pseudo-counts of the uniform prior in each histogram.
    var priorWeight: Double
    /// Configurations other workers are evaluating: counted with the rest (g),
    /// as if they will score badly (the constant liar), so workers sharing a
    /// study do not all propose next to the same good configuration. Empty for
    /// a single worker, which then proposes exactly as without it.
    var pending: [Int] = []

    init(encoded: EncodedSpace, startup: Int? = nil, gamma: Double = 0.2, priorWeight: Double = 1) {
        self.encoded = encoded
        self.startup = startup ?? min(10, max(3, encoded.count / 20))
        self.gamma = gamma
        self.priorWeight = priorWeight
    }

    mutating func next(history: [Observation], excluded: Set<Int>, rng: inout SeededGenerator) -> Int? {
        guard excluded.count < encoded.count else { return nil }
        // One value per configuration: the latest observation of each.
        var latest: [Int: Double] = [:]
        for observation in history { latest[observation.index] = observation.value }
        if latest.count < startup {
            var random = RandomSampler(count: encoded.count)
            return random.next(history: history, excluded: excluded, rng: &rng)
        }
        let ranked = latest.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        let goodCount = max(1, Int((gamma * Double(ranked.count)).rounded(.up)))
        let good = ranked.prefix(goodCount).map(\.key)
        let rest = ranked.dropFirst(goodCount).map(\.key) + pending.filter { latest[$0] == nil }
        let l = densities(of: good)
        let g = densities(of: rest)
        var best: [Int] = []
        var bestScore = -Double.infinity
        for index in 0..<encoded.count where !excluded.contains(index) {
            let codes = encoded.codes[index]
            var score = 0.0
            for a in codes.indices where codes[a] >= 0 {
                score += l[a][codes[a]] - g[a][codes[a]]
            }
            if score > bestScore + 1e-12 {
                bestScore = score
                best = [index]
            } else if abs(score - bestScore) <= 1e-12 {
                best.append(index)
            }
        }
        guard !best.isEmpty else { return nil }
        return best[Int.random(in: 0..<best.count, using: &rng)]
    }

    /// Per axis, the log of a smoothed histogram over its values.
    func densities(of members: [Int]) -> [[Double]] {
        encoded.axes.indices.map { a in
            let size = encoded.axes[a].values.count
            var counts = Array(repeating: priorWeight / Double(size), count: size)
            var total = priorWeight
            let ordered = encoded.axes[a].isOrdered
            for member in members {
                let code = encoded.codes[member][a]
                guard code >= 0 else { continue }
                if ordered, size > 2 {
                    // A triangular kernel one step wide each side.
                    let weights: [(Int, Double)] = [(code - 1, 0.25), (code, 0.5), (code + 1, 0.25)].filter { $0.0 >= 0 && $0.0 < size }
                    let sum = weights.reduce(0) { $0 + $1.1 }
                    for (position, weight) in weights { counts[position] += weight / sum }
                } else {
                    counts[code] += 1
                }
                total += 1
            }
            return counts.map { log($0 / total) }
        }
    }
}
