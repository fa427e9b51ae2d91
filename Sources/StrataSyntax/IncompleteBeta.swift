import Foundation

/// The regularized incomplete beta function I_x(a, b), for the posterior of
/// votes whose counts are confidence weights (not integers, so the binomial
/// sum of the unweighted rule does not apply).
enum IncompleteBeta {
    /// I_x(a, b) by the continued fraction of Numerical Recipes (§6.4),
    /// evaluated on the side where it converges fast.
    static func regularized(x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logGammas: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let logFront = logGammas + logPowers
        if x < (a + 1) / (a + b + 2) {
            return exp(logFront) * continuedFraction(x: x, a: a, b: b) / a
        }
        return 1 - exp(logFront) * continuedFraction(x: 1 - x, a: b, b: a) / b
    }

    private static func continuedFraction(x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var result = d
        for m in 1...300 {
            let m = Double(m)
            var numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + numerator * d
            d = abs(d) < tiny ? 1 / tiny : 1 / d
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            result *= d * c
            numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + numerator * d
            d = abs(d) < tiny ? 1 / tiny : 1 / d
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            let step = d * c
            result *= step
            if abs(step - 1) < 1e-15 { break }
        }
        return result
    }
}
