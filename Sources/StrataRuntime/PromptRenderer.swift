import StrataProviders

/// Fills prompt templates: `{query}`, `{candidates}`, `{n}`, `{top_k}`,
/// `{candidate}`, `{reasoning}`, `{tests}`, `{test_count}`, `{length_control}`.
enum PromptRenderer {
    static func render(_ template: String, _ values: [String: String]) -> String {
        var out = ""
        out.reserveCapacity(template.utf8.count + values.values.reduce(0) { $0 + $1.utf8.count })
        var index = template.startIndex
        while index < template.endIndex {
            let character = template[index]
            if character == "{" {
                let next = template.index(after: index)
                if next < template.endIndex, template[next] == "{" {
                    out.append("{")
                    index = template.index(after: next)
                    continue
                }
                if let close = template[next...].firstIndex(of: "}"), let value = values[String(template[next..<close])] {
                    out += value
                    index = template.index(after: close)
                    continue
                }
            }
            out.append(character)
            index = template.index(after: index)
        }
        return out
    }

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
