/// Token counts estimated from text before any tokenizer is at hand: about four
/// bytes of UTF-8 per token, rounded up, which overestimates for English prose
/// (the safe side for context and budget checks).
public enum TokenEstimate {
    public static func of(_ text: String) -> Int { (text.utf8.count + 3) / 4 }

    /// Tokens the "[i] " markers and blank lines around one embedded candidate add.
    static let perCandidateOverhead = 6
    /// Tokens of chat formatting around each message.
    static let perMessageOverhead = 8
}
