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
    /// The vote's position, where the early stop's note goes.
    let voteLayer: Int

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
        guard rule.isSettled(leader: leader, second: second, remaining: remaining) else { return nil }
        if leader > second + remaining {
            return "the leading answer has \(leader) of \(texts.count) votes and \(remaining) sample(s) left cannot overtake it"
        }
        let probability = EarlyStop.majorityProbability(leader: leader, second: second)
        return "the leading answer has \(leader) of \(texts.count) votes against \(second): P(majority) = \(String(format: "%.3f", probability))"
    }
}
