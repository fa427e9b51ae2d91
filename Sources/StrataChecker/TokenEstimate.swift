import StrataSyntax

/// Token counts estimated from text before any tokenizer is at hand: about four
/// bytes of UTF-8 per token, rounded up, which overestimates for English prose
/// (the safe side for context and budget checks).
package enum TokenEstimate {
    package static func of(_ text: String) -> Int { (text.utf8.count + 3) / 4 }

    /// Tokens the "[i] " markers and blank lines around one embedded candidate add.
    static let perCandidateOverhead = 6
    /// Tokens of chat formatting around each message.
    static let perMessageOverhead = 8

    /// The longest a judged test (a statement) may be: the runtime cuts longer
    /// ones, so tests shown in a prompt are bounded by their count, not only by
    /// the writer's `max_tokens`.
    package static let judgedTestTokens = 100

    /// The most tokens a set of written tests adds to a prompt: executable
    /// tests are code and kept whole, so only the writer's output bounds them.
    static func tests(mode: UnitTestMode, count: Int, writerOutput: Int) -> Int {
        guard mode == .judge else { return writerOutput }
        return min(writerOutput, count * (judgedTestTokens + 2)) + perMessageOverhead
    }
}
