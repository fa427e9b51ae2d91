import StrataProviders
import StrataSyntax

/// How a vote counts its candidates: each readable answer gets one vote, or,
/// with `weight: confidence`, its completion's path probability; with `keep`,
/// only the most confident share of the candidates votes. The vote layer and
/// an early stop judging the samples drawn so far count the same way.
struct VoteCounting: Sendable {
    let extractor: AnswerExtractorKind
    let weight: VoteWeight
    let keep: Double?

    /// One answer's votes.
    struct Standing: Sendable {
        var answer: String
        var votes: Double
        var count: Int
        var firstSeen: Int
    }

    /// What the candidates (nil for a sample that failed) add up to.
    struct Count: Sendable {
        /// Each candidate's answer, nil when unreadable, failed or not kept.
        var answers: [String?]
        /// The answers, the winner first (ties broken by the first candidate to give one).
        var standings: [Standing]
        var unreadable: Int
        /// Candidates left out by `keep`.
        var dropped: Int
        var total: Double { standings.reduce(0) { $0 + $1.votes } }
    }

    func count(_ candidates: [Candidate?]) -> Count {
        let kept = keptIndices(candidates)
        let weights = self.weights(candidates)
        var answers = [String?](repeating: nil, count: candidates.count)
        var byAnswer: [String: Standing] = [:]
        var unreadable = 0
        for (index, candidate) in candidates.enumerated() {
            guard let candidate, kept.contains(index) else { continue }
            guard let answer = AnswerExtractor.extract(extractor, from: candidate.text) else {
                unreadable += 1
                continue
            }
            answers[index] = answer
            byAnswer[answer, default: Standing(answer: answer, votes: 0, count: 0, firstSeen: index)].votes += weights[index]
            byAnswer[answer]!.count += 1
        }
        let standings = byAnswer.values.sorted { ($0.votes, -$0.firstSeen) > ($1.votes, -$1.firstSeen) }
        let present = candidates.filter { $0 != nil }.count
        return Count(answers: answers, standings: standings, unreadable: unreadable, dropped: present - kept.count)
    }

    /// The weight of each candidate's vote. A candidate without a confidence
    /// (its reply carried none) weighs the mean of those that have one, so it
    /// neither dominates nor vanishes.
    func weights(_ candidates: [Candidate?]) -> [Double] {
        guard weight == .confidence else { return candidates.map { _ in 1 } }
        let known = candidates.compactMap { $0?.confidence?.pathProbability }
        let fallback = known.isEmpty ? 1 : known.reduce(0, +) / Double(known.count)
        return candidates.map { $0?.confidence?.pathProbability ?? fallback }
    }

    /// The candidates that vote: all of them, or with `keep` the most confident
    /// share by lowest group confidence (mean log-probability where the reply
    /// had no alternatives), at least one; ties keep pool order.
    func keptIndices(_ candidates: [Candidate?]) -> Set<Int> {
        let present = candidates.indices.filter { candidates[$0] != nil }
        guard let keep else { return Set(present) }
        let wanted = max(1, Int((keep * Double(present.count)).rounded(.up)))
        let ranked = present.sorted {
            Self.sureness(candidates[$0]) > Self.sureness(candidates[$1]) || (Self.sureness(candidates[$0]) == Self.sureness(candidates[$1]) && $0 < $1)
        }
        return Set(ranked.prefix(wanted))
    }

    private static func sureness(_ candidate: Candidate?) -> Double {
        guard let confidence = candidate?.confidence else { return -.infinity }
        return confidence.lowestGroup ?? confidence.meanLogprob
    }

    /// `answer: votes` for a note: counts, or weights to two places.
    func describe(_ standings: [Standing]) -> String {
        standings.map { standing in
            weight == .count
                ? "\(standing.answer): \(standing.count)"
                : "\(standing.answer): \(String(format: "%.2f", standing.votes)) (\(standing.count))"
        }.joined(separator: ", ")
    }
}
