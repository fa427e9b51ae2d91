import Foundation
import StrataChecker
import StrataSyntax

/// A vote that stops early: the ensemble's samples, released in sample order
/// with `wave` of them in flight, and the rule that ends the drawing. The rule
/// is judged on every prefix of the samples in turn (never on whichever
/// replies came first), so the same replies always stop at the same point and
/// give the same vote.
struct EarlyStopGate: Sendable {
    /// The ensemble's call nodes, in sample order.
    let calls: [Int]
    /// Samples in flight at once.
    let wave: Int
    let rule: EarlyStop
    let counting: VoteCounting
    /// The vote's position, where the early stop's note goes.
    let voteLayer: Int

    /// Why the first samples (nil for a failed call) settle the vote with
    /// `remaining` samples not drawn; nil when they do not.
    func settled(_ drawn: [Candidate?], remaining: Int) -> String? {
        let count = counting.count(drawn)
        guard let leader = count.standings.first else { return nil }
        let second = count.standings.dropFirst().first?.votes ?? 0
        let tally = VoteTally(
            leader: leader.votes, second: second, total: count.total, leaderCount: leader.count, drawn: drawn.count,
            run: Self.trailingRun(count.answers), remaining: remaining)
        guard rule.isSettled(tally) else { return nil }
        let votes = counting.weight == .count ? "\(leader.count) of \(drawn.count) votes" : "\(format(leader.votes)) of \(format(count.total)) weighted votes"
        if tally.leader > tally.second + Double(remaining) {
            return "the leading answer has \(votes) and \(remaining) sample(s) left cannot overtake it"
        }
        switch rule {
        case .unbeatable:
            return nil
        case .confidence:
            let scale = tally.total > 0 ? Double(tally.drawn) / tally.total : 0
            let probability = EarlyStop.majorityProbability(leader: tally.leader * scale, second: tally.second * scale)
            return "the leading answer has \(votes) against \(format(second)): P(majority) = \(String(format: "%.3f", probability))"
        case .window(let size):
            return "the last \(tally.run) samples agree (window \(size))"
        case .consensus(let share):
            return "the leading answer holds \(String(format: "%.0f", 100 * tally.leader / tally.total))% of the votes (\(votes); consensus \(share))"
        }
    }

    private func format(_ votes: Double) -> String {
        votes == votes.rounded() ? String(Int(votes)) : String(format: "%.2f", votes)
    }

    /// How many of the last answers agree with each other (an unreadable or failed sample breaks the run).
    static func trailingRun(_ answers: [String?]) -> Int {
        guard let last = answers.last, let answer = last else { return 0 }
        return answers.reversed().prefix { $0 == answer }.count
    }
}
