import StrataProviders

/// Fills prompt templates: `{query}`, `{candidates}`, `{n}`, `{top_k}`,
/// `{candidate}`, `{reasoning}`, `{tests}`, `{test_count}`, `{length_control}`.
enum PromptRenderer {
    /// Works on UTF-8 bytes: a verify layer renders two prompts per candidate,
    /// so this runs hundreds of thousands of times in a large batch.
    static func render(_ template: String, _ values: [String: String]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(template.utf8.count + values.values.reduce(0) { $0 + $1.utf8.count })
        let bytes = Array(template.utf8)
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}")
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == open {
                if index + 1 < bytes.count, bytes[index + 1] == open {
                    out.append(open)
                    index += 2
                    continue
                }
                var end = index + 1
                while end < bytes.count, end - index <= 32, bytes[end] != close, bytes[end] != open { end += 1 }
                if end < bytes.count, bytes[end] == close,
                    let value = values[String(decoding: bytes[(index + 1)..<end], as: UTF8.self)]
                {
                    out.append(contentsOf: value.utf8)
                    index = end + 1
                    continue
                }
            }
            out.append(byte)
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
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
