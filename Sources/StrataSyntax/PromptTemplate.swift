/// The prompts each layer sends, with their placeholders. A layer's `prompt:`
/// (and `verdict_prompt:` / `judge_prompt:`) replaces the built-in text; the
/// checker makes sure an override uses only known placeholders and keeps the
/// required ones.
public struct PromptTemplate: Sendable, Hashable {
    /// What the template is for, e.g. "rank".
    public var role: String
    public var text: String
    /// Placeholders the text may use, e.g. `candidates` for `{candidates}`.
    public var allowed: [String]
    /// Placeholders the text must use, or the layer cannot work.
    public var required: [String]

    /// Placeholders written in `text`, in order of first use. `{{` escapes a brace.
    public static func placeholders(in text: String) -> [String] {
        var found: [String] = []
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            if scalars[i] == "{" {
                if i + 1 < scalars.count, scalars[i + 1] == "{" { i += 2; continue }
                var j = i + 1
                var name = ""
                while j < scalars.count, scalars[j] == "_" || (scalars[j].properties.isLowercase && scalars[j].isASCII) {
                    name.unicodeScalars.append(scalars[j])
                    j += 1
                }
                if j < scalars.count, scalars[j] == "}", !name.isEmpty {
                    if !found.contains(name) { found.append(name) }
                    i = j + 1
                    continue
                }
            }
            i += 1
        }
        return found
    }

    /// The text with placeholders removed: what the estimate of a prompt's own size counts.
    public static func fixedText(of text: String) -> String {
        var text = text
        for name in placeholders(in: text) { text = text.replacingOccurrences(of: "{\(name)}", with: "") }
        return text
    }
}

extension PromptTemplate {
    /// Ensemble: the query itself is the prompt; this is the system message.
    public static let generate = PromptTemplate(
        role: "ensemble", text: "You are a helpful assistant. Answer the user's request accurately and completely.",
        allowed: [], required: [])

    public static let critique = PromptTemplate(
        role: "critique",
        text: """
            I will give you {n} responses to the instruction below, each marked with an identifier in brackets.
            Evaluate each response: list its strengths and its weaknesses with respect to the instruction, \
            paying particular attention to correctness.

            Instruction: {query}

            {candidates}

            For every response, in order, write exactly:
            [i] Strengths: <the strengths of response i>
            Weaknesses: <the weaknesses of response i>
            Cover all {n} responses and nothing else.
            """,
        allowed: ["n", "query", "candidates"], required: ["query", "candidates"])

    public static let rank = PromptTemplate(
        role: "rank",
        text: """
            I will give you {n} responses, each marked with an identifier in brackets. \
            Rank them by how well they answer the instruction: {query}

            {candidates}

            Rank the {n} responses above from best to worst, using their identifiers and the format [] > [], \
            for example [4] > [2] > [1] > [3]. Include every response exactly once. \
            Answer with the ranking only, without any explanation.
            """,
        allowed: ["n", "query", "candidates", "top_k"], required: ["query", "candidates"])

    /// Sent as the system message, before the query's own conversation, so the
    /// last thing the fuser reads is the user's request and it answers that.
    /// (As a user message after the candidates, small models described the
    /// candidates instead: see the README's fuse-prompt table.)
    public static let fuse = PromptTemplate(
        role: "fuse",
        text: """
            You answer the user's request. Other assistants have drafted answers to it; some drafts may be wrong, \
            incomplete or badly formatted. Synthesize what is right in them, fix what is wrong, and write your own \
            complete answer in the format the request asks for. Never mention the drafts.{length_control}

            The request: {query}

            Drafts:
            {candidates}
            """,
        allowed: ["n", "query", "candidates", "length_control"], required: ["query", "candidates"])

    /// Appended to the fuse prompt by `length_control: true`.
    public static let lengthControlSentence =
        " Your answer must be no longer than the longest of the drafts."

    public static let verifyReasoning = PromptTemplate(
        role: "verify",
        text: """
            Here is an instruction and a candidate response. Reason step by step about whether the response \
            correctly and completely answers the instruction. Point out every error you find.

            Instruction: {query}

            Response:
            {candidate}
            """,
        allowed: ["query", "candidate"], required: ["query", "candidate"])

    public static let verifyVerdict = PromptTemplate(
        role: "verify verdict",
        text: """
            Instruction: {query}

            Response:
            {candidate}

            Reasoning about the response:
            {reasoning}

            Based on the reasoning, is the response correct? End your answer with exactly [Correct] or [Incorrect].
            """,
        allowed: ["query", "candidate", "reasoning"], required: ["candidate", "reasoning"])

    public static let writeJudgeTests = PromptTemplate(
        role: "unit-test",
        text: """
            Write {test_count} unit tests for the instruction below: short, independent statements that any correct \
            response must satisfy, such as "The response states that …". Do not answer the instruction yourself.
            Write one test per line, numbered [1] to [{test_count}].

            Instruction: {query}
            """,
        allowed: ["query", "test_count"], required: ["query"])

    public static let writeExecutableTests = PromptTemplate(
        role: "unit-test",
        text: """
            Write {test_count} Python assert statements that a correct solution to the task below must pass. \
            Use only the names the task defines; do not solve the task. Answer with one ```python code block \
            holding only the asserts.

            Task: {query}
            """,
        allowed: ["query", "test_count"], required: ["query"])

    public static let judgeTests = PromptTemplate(
        role: "unit-test judge",
        text: """
            Here are an instruction, a response and a numbered list of unit tests. For each test, decide whether the \
            response passes it. Answer with one line per test, in order: [1] [Passed] or [1] [Failed], and so on.

            Instruction: {query}

            Response:
            {candidate}

            Unit tests:
            {tests}
            """,
        allowed: ["query", "candidate", "tests"], required: ["candidate", "tests"])
}
