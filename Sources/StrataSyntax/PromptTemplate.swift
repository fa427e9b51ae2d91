/// The prompts each layer sends, with their placeholders. A layer's `prompt:`
/// (and `verdict_prompt:` / `judge_prompt:`) replaces the built-in text; the
/// checker makes sure an override uses only known placeholders and keeps the
/// required ones.
package struct PromptTemplate: Sendable, Hashable {
    /// What the template is for, e.g. "rank".
    package var role: String
    package var text: String
    /// Placeholders the text may use, e.g. `candidates` for `{candidates}`.
    package var allowed: [String]
    /// Placeholders the text must use, or the layer cannot work.
    package var required: [String]

    /// Placeholders written in `text`, in order of first use. `{{` escapes a brace.
    package static func placeholders(in text: String) -> [String] {
        var found: [String] = []
        scan(text) { part in
            if case .placeholder(let name, _) = part, !found.contains(name) { found.append(name) }
        }
        return found
    }

    /// `template` with each placeholder that has a value replaced by it; `{{`
    /// is a literal brace, and a placeholder without a value stays as written.
    /// Works on UTF-8 bytes: a verify layer renders two prompts per candidate,
    /// so this runs hundreds of thousands of times in a large batch.
    package static func render(_ template: String, _ values: [String: String]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(template.utf8.count + values.values.reduce(0) { $0 + $1.utf8.count })
        scan(template) { part in
            switch part {
            case .literal(let bytes): out.append(contentsOf: bytes)
            case .brace: out.append(UInt8(ascii: "{"))
            case .placeholder(let name, let written):
                if let value = values[name] { out.append(contentsOf: value.utf8) } else { out.append(contentsOf: written) }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A piece of a template.
    enum Part {
        case literal(ArraySlice<UInt8>)
        /// `{{`: one literal brace.
        case brace
        /// `{name}`, a name of lowercase ASCII letters and underscores, and its text as written.
        case placeholder(String, ArraySlice<UInt8>)
    }

    /// The one reading of placeholders that the checker and the runtime share.
    static func scan(_ text: String, _ visit: (Part) -> Void) {
        let bytes = Array(text.utf8)
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}"), underscore = UInt8(ascii: "_")
        var literalStart = 0, index = 0
        func flush(to end: Int) {
            if end > literalStart { visit(.literal(bytes[literalStart..<end])) }
        }
        while index < bytes.count {
            guard bytes[index] == open else {
                index += 1
                continue
            }
            if index + 1 < bytes.count, bytes[index + 1] == open {
                flush(to: index)
                visit(.brace)
                index += 2
                literalStart = index
                continue
            }
            var end = index + 1
            while end < bytes.count, bytes[end] == underscore || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[end]) { end += 1 }
            if end < bytes.count, bytes[end] == close, end > index + 1 {
                flush(to: index)
                visit(.placeholder(String(decoding: bytes[(index + 1)..<end], as: UTF8.self), bytes[index...end]))
                index = end + 1
                literalStart = index
                continue
            }
            index += 1
        }
        flush(to: bytes.count)
    }

    /// The text with placeholders removed: what the estimate of a prompt's own size counts.
    package static func fixedText(of text: String) -> String {
        var text = text
        for name in placeholders(in: text) { text = text.replacingOccurrences(of: "{\(name)}", with: "") }
        return text
    }
}

extension PromptTemplate {
    /// Ensemble: the query itself is the prompt; this is the system message.
    package static let generate = PromptTemplate(
        role: "ensemble", text: "You are a helpful assistant. Answer the user's request accurately and completely.",
        allowed: [], required: [])

    // The templates that read a pool or a candidate open with `{context}`: the request and the responses, in
    // one canonical wording that every such call of a query shares byte for byte. The runtime sends it as a
    // message of its own ahead of the layer's task, so a provider's prompt cache (llama.cpp's slots, OpenAI's
    // and Anthropic's prefix caches) reads it once: a fuse after a critique reprocesses none of the drafts, a
    // verdict none of the candidate its reasoning call already read.

    package static let critique = PromptTemplate(
        role: "critique",
        text: """
            {context}

            Evaluate each of the {n} responses above: list its strengths and its weaknesses with respect to the \
            request, paying particular attention to correctness.

            For every response, in order, write exactly:
            [i] Strengths: <the strengths of response i>
            Weaknesses: <the weaknesses of response i>
            Cover all {n} responses and nothing else.
            """,
        allowed: ["context", "n", "query", "candidates"], required: ["query", "candidates"])

    package static let rank = PromptTemplate(
        role: "rank",
        text: """
            {context}

            Rank the {n} responses above by how well they answer the request, from best to worst, using their \
            identifiers and the format [] > [], for example [4] > [2] > [1] > [3]. Include every response exactly \
            once. Answer with the ranking only, without any explanation.
            """,
        allowed: ["context", "n", "query", "candidates", "top_k"], required: ["query", "candidates"])

    /// Sent as system messages (the context, then this task) before the query's own conversation, so the
    /// last thing the fuser reads is the user's request and it answers that. (As a user message after the
    /// candidates, small models described the candidates instead: see the fuse-prompt table in Benchmarks/README.md.)
    package static let fuse = PromptTemplate(
        role: "fuse",
        text: """
            {context}

            You answer the user's request. Other assistants have drafted the responses above; some of them may be \
            wrong, incomplete or badly formatted. Synthesize what is right in them, fix what is wrong, and write \
            your own complete answer in the format the request asks for. Never mention the other responses.{length_control}
            """,
        allowed: ["context", "n", "query", "candidates", "length_control"], required: ["query", "candidates"])

    /// Appended to the fuse prompt by `length_control: true`.
    package static let lengthControlSentence =
        " Your answer must be no longer than the longest of the drafts."

    package static let verifyReasoning = PromptTemplate(
        role: "verify",
        text: """
            {context}

            Reason step by step about whether the response above correctly and completely answers the request. \
            Point out every error you find.
            """,
        allowed: ["context", "query", "candidate"], required: ["query", "candidate"])

    package static let verifyVerdict = PromptTemplate(
        role: "verify verdict",
        text: """
            {context}

            Reasoning about the response:
            {reasoning}

            Based on the reasoning, is the response correct? End your answer with exactly [Correct] or [Incorrect].
            """,
        allowed: ["context", "query", "candidate", "reasoning"], required: ["candidate", "reasoning"])

    // The test writers' templates put the query first and their own instruction last: a query that ends with its
    // own reply format ("Reply with the complete function in one code block", as evaluation wraps HumanEval) was
    // followed instead by a 0.5B model, which then wrote the function and no tests on 10 of 12 problems.
    package static let writeJudgeTests = PromptTemplate(
        role: "unit-test",
        text: """
            Someone else will answer the following instruction. You will not answer it: you write the tests their \
            response must pass.

            --- instruction ---
            {query}
            --- end of instruction ---

            Now write {test_count} unit tests for the instruction above: short, independent statements that any \
            correct response must satisfy, such as "The response states that …". Write one test per line, numbered \
            [1] to [{test_count}].
            """,
        allowed: ["query", "test_count"], required: ["query"])

    package static let writeExecutableTests = PromptTemplate(
        role: "unit-test",
        text: """
            Someone else will solve the following task. You will not solve it: you write the tests their solution \
            must pass.

            --- task ---
            {query}
            --- end of task ---

            Now write {test_count} Python assert statements that call what the task defines with sample arguments \
            and compare the result with the value a correct solution returns, for example \
            `assert name(arguments) == expected`. Do not write the solution or any function. Answer with one \
            ```python code block holding only the asserts.
            """,
        allowed: ["query", "test_count"], required: ["query"])

    package static let judgeTests = PromptTemplate(
        role: "unit-test judge",
        text: """
            {context}

            Unit tests:
            {tests}

            For each unit test above, decide whether the response passes it. Answer with one line per test, in \
            order: [1] [Passed] or [1] [Failed], and so on.
            """,
        allowed: ["context", "query", "candidate", "tests"], required: ["candidate", "tests"])

    /// Whether a template opens with the shared context, which the runtime then sends as a message of its own.
    package static func opensWithContext(_ text: String) -> Bool { text.hasPrefix("{context}") }

    /// The placeholders `{context}` stands for: a template that uses it has the query and what it reads.
    package static let contextCovers = ["query", "candidates", "candidate"]
}
