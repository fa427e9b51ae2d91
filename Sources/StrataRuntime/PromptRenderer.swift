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

    /// The request and the pool in the one wording every call reading them shares (critiques, when the
    /// candidates carry them, after all the candidates, so that the prefix up to them stays the same).
    static func context(query: String, pool: [Candidate], critiques: Bool) -> String {
        var text = "The request:\n\(query)\n\nThe \(pool.count) responses to it, each marked with an identifier in brackets:\n\n"
        text += candidatesText(pool, critiques: false)
        let written = pool.enumerated().compactMap { index, candidate in candidate.critique.map { "[\(index + 1)] \($0)" } }
        if critiques, !written.isEmpty { text += "\n\nCritiques of the responses:\n\n" + written.joined(separator: "\n\n") }
        return text
    }

    /// The request and one candidate, as every call about that candidate shares them.
    static func context(query: String, candidate: String) -> String {
        "The request:\n\(query)\n\nA response to it:\n\(candidate)"
    }

    /// The prompt of a call that reads the whole pool: `{context}` and
    /// `{candidates}` each rendered only when the template uses it (a prompt
    /// of one's own may use either, or both), with `extra` values beside them.
    static func poolPrompt(
        _ template: String, query: String, pool: [Candidate], critiques: Bool, extra: [String: String] = [:],
        task role: ChatMessage.Role = .user, suffix: String = ""
    ) -> [ChatMessage] {
        var values = extra
        values["query"] = query
        values["n"] = String(pool.count)
        if template.contains("{context}") { values["context"] = context(query: query, pool: pool, critiques: critiques) }
        if template.contains("{candidates}") { values["candidates"] = candidatesText(pool, critiques: critiques) }
        return messages(template, values, task: role, suffix: suffix)
    }

    /// The prompt of a call about one candidate, `{context}` rendered only when the template uses it.
    static func candidatePrompt(
        _ template: String, query: String, candidate: String, extra: [String: String] = [:], suffix: String = ""
    ) -> [ChatMessage] {
        var values = extra
        values["query"] = query
        values["candidate"] = candidate
        if template.contains("{context}") { values["context"] = context(query: query, candidate: candidate) }
        return messages(template, values, suffix: suffix)
    }

    /// A rendered prompt as messages. A template that opens with `{context}`
    /// sends the context as a system message of its own and the rest as the
    /// user's (or, with `task` `.system`, as a second system message), so calls
    /// reading the same context share a byte-identical prefix; any other
    /// template is one message. `suffix` ends the last one.
    static func messages(
        _ template: String, _ values: [String: String], task role: ChatMessage.Role = .user, suffix: String = ""
    ) -> [ChatMessage] {
        guard PromptTemplate.opensWithContext(template), let context = values["context"] else {
            return [ChatMessage(role, render(template, values) + suffix)]
        }
        let rest = render(String(template.dropFirst("{context}".count)), values)
        return [.system(context), ChatMessage(role, String(rest.drop { $0 == "\n" || $0 == " " }) + suffix)]
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
