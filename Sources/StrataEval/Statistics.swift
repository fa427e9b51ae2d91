import Foundation

/// Intervals and tests for evaluation results.
package enum Statistics {
    /// The 95% Wilson score interval for `successes` out of `n`.
    package static func wilson(successes: Double, n: Int, z: Double = 1.959964) -> ClosedRange<Double> {
        guard n > 0 else { return 0...1 }
        let total = Double(n), p = successes / total
        let denominator = 1 + z * z / total
        let center = (p + z * z / (2 * total)) / denominator
        let half = z * sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
        return max(0, center - half)...min(1, center + half)
    }

    /// A 95% percentile-bootstrap interval of the mean, with a seeded generator so reports repeat.
    package static func bootstrap(_ values: [Double], resamples: Int = 2000, seed: UInt64 = 1) -> ClosedRange<Double> {
        guard !values.isEmpty else { return 0...0 }
        var generator = SplitMix64(seed: seed)
        var means: [Double] = []
        means.reserveCapacity(resamples)
        for _ in 0..<resamples {
            var sum = 0.0
            for _ in values.indices { sum += values[Int(generator.next() % UInt64(values.count))] }
            means.append(sum / Double(values.count))
        }
        means.sort()
        return means[Int(Double(resamples) * 0.025)]...means[min(resamples - 1, Int(Double(resamples) * 0.975))]
    }

    /// The q-th percentile (0…1), by nearest rank.
    package static func percentile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
    }

    /// Exact two-sided McNemar test on paired binary outcomes: `onlyA` items right
    /// only under A, `onlyB` only under B. Returns the p-value.
    package static func mcNemar(onlyA: Int, onlyB: Int) -> Double {
        let n = onlyA + onlyB
        guard n > 0 else { return 1 }
        let k = min(onlyA, onlyB)
        // P(X <= k) for X ~ Binomial(n, 1/2), doubled.
        var logChoose = 0.0
        var tail = 0.0
        for i in 0...k {
            if i > 0 { logChoose += log(Double(n - i + 1)) - log(Double(i)) }
            tail += exp(logChoose - Double(n) * log(2))
        }
        return min(1, 2 * tail)
    }

    /// Whether every value is 0 or 1.
    package static func isBinary(_ values: [Double]) -> Bool { values.allSatisfy { $0 == 0 || $0 == 1 } }
}

/// A small seeded generator, so bootstrap intervals are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
