import Foundation

/// An axis's ticks as a person reads them — 1, 2 or 5 times a power of ten,
/// about `count` of them, from the tick at or below the lowest value to the
/// one at or above the highest — the same rule the studio's charts use, so a
/// static report and the studio label an axis alike.
package struct ChartAxis: Sendable {
    package var ticks: [Double]
    package var step: Double
    package var low: Double { ticks.first ?? 0 }
    package var high: Double { ticks.last ?? 1 }

    package init(from low: Double, to high: Double, count: Int = 5) {
        var low = low, high = high
        if !(high > low) {
            let pad = low != 0 ? abs(low) * 0.1 : 1
            low -= pad
            high += pad
        }
        let raw = (high - low) / Double(count), power = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? raw
        let first = (low / step + 1e-9).rounded(.down), last = (high / step - 1e-9).rounded(.up)
        self.step = step
        ticks = stride(from: first, through: last, by: 1).map { ($0 * step * 1e12).rounded() / 1e12 }
    }

    /// Where `value` falls between `start` and `end` on the page.
    package func position(_ value: Double, from start: Double, to end: Double) -> Double {
        start + (value - low) / max(high - low, .leastNonzeroMagnitude) * (end - start)
    }

    /// A tick's label, with as many decimals as the step needs.
    package func label(_ value: Double) -> String {
        String(format: "%.\(min(6, max(0, -Int(log10(step).rounded(.down)))))f", value)
    }
}

/// Text with its digit runs compared as numbers: q2 before q10.
package enum NaturalOrder {
    package static func precedes(_ a: String, _ b: String) -> Bool {
        a.compare(b, options: [.numeric]) == .orderedAscending
    }
}
