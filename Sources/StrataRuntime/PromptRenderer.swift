import StrataProviders
import StrataSyntax

/// Fills prompt templates: `{query}`, `{candidates}`, `{n}`, `{top_k}`,
/// `{candidate}`, `{reasoning}`, `{tests}`, `{test_count}`, `{length_control}`.
enum PromptRenderer {
    static func render(_ template: String, _ values: [String: String]) -> String { PromptTemplate.render(template, values) }

    /// The query as text: the user's message, or a transcript of a longer conversation.
    static func queryText(_ messages: [ChatMessage]) -> String {
        let conversation = messages.filter { $0.role != .system }
        if conversation.count == 1 { return conversation[0].content }
        return conversation.map { "\($0.role == .user ? "User" : "Assistant"): \($0.content)" }.joined(separator: "\n\n")
    }

    /// Candidates as `[i] text`, each followed by its critique when asked.
    static func candidatesText(_ pool: [Candidate], critiques: Bool) -> String {
        pool.enumerated().map { index, candidate in
            var block = "[\(index + 1)] \(candidate.text)"
            if critiques, let critique = candidate.critique { block += "\nCritique of [\(index + 1)]: \(critique)" }
            return block
        }.joined(separator: "\n\n")
    }
}
