import Foundation

/// How sure a model was of one completion, from the log-probabilities of its
/// tokens: what a vote weighs answers by, and what `keep` filters on.
///
/// Two measures, after the papers that use them: the mean log-probability of
/// the chosen tokens (its exponential, the geometric-mean token probability,
/// is the weight of a confidence-weighted vote, as in RPC's probability-weighted
/// self-consistency), and DeepConf's *lowest group confidence*: a token's
/// confidence is minus the mean log-probability of its top alternatives, a
/// group's the mean over a window of consecutive tokens, and the lowest group
/// is the completion's weakest stretch — a guess somewhere in the middle of a
/// fluent answer shows there, where a mean over every token hides it.
public struct Confidence: Sendable, Hashable, Codable {
    /// The mean log-probability of the chosen tokens (at most 0; 0 is certain).
    public var meanLogprob: Double
    /// The lowest confidence of a window of `Confidence.groupWindow` tokens
    /// (the whole completion when it is shorter); higher is surer. Nil when the
    /// reply carried no alternatives (`top_logprobs`).
    public var lowestGroup: Double?
    /// How many tokens the measures are over.
    public var tokens: Int

    /// Tokens in a group of DeepConf's sliding window. DeepConf uses 2,048 for
    /// long reasoning traces; answers here are a few hundred tokens, and a
    /// window of 32 still spans a step of working while isolating one.
    public static let groupWindow = 32

    /// The geometric-mean probability of the chosen tokens, in (0, 1]: the
    /// weight of this completion's answer in a confidence-weighted vote.
    public var pathProbability: Double { exp(meanLogprob) }

    /// Confidence figures.
    public init(meanLogprob: Double, lowestGroup: Double?, tokens: Int) {
        self.meanLogprob = meanLogprob
        self.lowestGroup = lowestGroup
        self.tokens = tokens
    }

    /// The measures of a completion's tokens; nil when there are none.
    package init?(tokens: [TokenLogprob]) {
        guard !tokens.isEmpty else { return nil }
        self.tokens = tokens.count
        meanLogprob = tokens.map(\.logprob).reduce(0, +) / Double(tokens.count)
        lowestGroup = Self.lowestGroupConfidence(tokens)
    }

    /// The minimum over every window of `groupWindow` consecutive tokens of the
    /// mean token confidence, computed with a running sum.
    static func lowestGroupConfidence(_ tokens: [TokenLogprob]) -> Double? {
        let perToken = tokens.compactMap(\.confidence)
        guard perToken.count == tokens.count, !perToken.isEmpty else { return nil }
        let window = min(groupWindow, perToken.count)
        var sum = perToken[..<window].reduce(0, +)
        var lowest = sum
        for end in window..<perToken.count {
            sum += perToken[end] - perToken[end - window]
            lowest = min(lowest, sum)
        }
        return lowest / Double(window)
    }
}

/// One generated token's log-probability and those of its top alternatives.
package struct TokenLogprob: Sendable, Hashable {
    package var logprob: Double
    /// The top alternatives' log-probabilities (the chosen token among them), when asked for.
    package var top: [Double]

    package init(logprob: Double, top: [Double]) {
        self.logprob = logprob
        self.top = top
    }

    /// DeepConf's token confidence: minus the mean log-probability of the top
    /// alternatives. A peaked distribution (one likely token, the others far
    /// below) scores high; a flat one, where the model was choosing among
    /// several, scores low.
    var confidence: Double? {
        top.isEmpty ? nil : -top.reduce(0, +) / Double(top.count)
    }

    /// The tokens of an OpenAI-style `logprobs` object
    /// (`{"content": [{"logprob", "top_logprobs": [{"logprob"}]}]}`). Servers
    /// that cannot represent minus infinity send a large negative number; both
    /// are clamped to -100 so one impossible token cannot make a mean infinite.
    static func parse(_ logprobs: Any?) -> [TokenLogprob]? {
        guard let object = logprobs as? [String: Any], let content = object["content"] as? [[String: Any]] else { return nil }
        return content.compactMap { entry in
            guard let logprob = number(entry["logprob"]) else { return nil }
            let top = (entry["top_logprobs"] as? [[String: Any]] ?? []).compactMap { number($0["logprob"]) }
            return TokenLogprob(logprob: logprob, top: top)
        }
    }

    private static func number(_ value: Any?) -> Double? {
        guard let value = value as? NSNumber else { return nil }
        let number = value.doubleValue
        return number.isNaN ? nil : max(-100, min(0, number))
    }
}
