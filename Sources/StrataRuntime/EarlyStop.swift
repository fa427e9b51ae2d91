import Foundation
import StrataChecker
import StrataSyntax

/// A vote that stops early: the ensemble's samples, drawn `wave` at a time in
/// sample order, and the rule that ends the drawing. The rule is judged on
/// whole prefixes of the samples (never on whichever replies came first), so
/// the same replies always stop at the same point and give the same vote.
struct EarlyStopGate: Sendable {
    /// The ensemble's call nodes, in sample order.
    let calls: [Int]
    let wave: Int
    let rule: EarlyStop
    let extractor: AnswerExtractorKind

    /// Whether the first `drawn` samples settle the vote, with why, given their
    /// texts (nil for a failed call) and how many samples are left.
    func settled(_ texts: [String?], remaining: Int) -> String? {
        var counts: [String: Int] = [:]
        for text in texts {
            guard let text, let answer = AnswerExtractor.extract(extractor, from: text) else { continue }
            counts[answer, default: 0] += 1
        }
        let ranked = counts.values.sorted(by: >)
        let leader = ranked.first ?? 0, second = ranked.dropFirst().first ?? 0
        guard leader > 0 else { return nil }
        if leader > second + remaining {
            return "the leading answer has \(leader) of \(texts.count) votes and \(remaining) sample(s) left cannot overtake it"
        }
        if case .confidence(let level) = rule {
            let probability = Self.majorityProbability(leader: leader, second: second)
            if probability >= level {
                return "the leading answer has \(leader) of \(texts.count) votes against \(second): P(majority) = \(String(format: "%.3f", probability)) ≥ \(level)"
            }
        }
        return nil
    }

    /// P(p > ½) for p ~ Beta(leader + 1, second + 1): the chance, under a
    /// uniform prior, that the leading answer wins a head-to-head majority
    /// with the runner-up. For integer parameters it is a binomial sum:
    /// P(Binomial(leader + second + 1, ½) ≤ leader).
    static func majorityProbability(leader: Int, second: Int) -> Double {
        let n = leader + second + 1
        var term = 1.0  // C(n, 0)
        var sum = 0.0
        for k in 0...leader {
            if k > 0 { term *= Double(n - k + 1) / Double(k) }
            sum += term
        }
        return sum / pow(2, Double(n))
    }
}
