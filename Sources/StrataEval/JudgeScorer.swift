import Foundation
import StrataProviders
import StrataRuntime

/// An LLM judge: a pipeline whose answer is a judgement (often a one-layer
/// pipeline of a strong model), and the prompt it is asked with.
public struct Judge: Sendable {
    /// The pipeline that judges.
    public var runtime: PipelineRuntime
    /// Overrides the built-in prompt. Single grading uses `{question}`, `{answer}`
    /// and `{reference}`; pairwise uses `{question}`, `{answer_a}` and `{answer_b}`.
    public var prompt: String?
    /// The judge's name, in reports and run keys.
    public var name: String

    /// A judge.
    public init(runtime: PipelineRuntime, prompt: String? = nil, name: String) {
        self.runtime = runtime
        self.prompt = prompt
        self.name = name
    }

    /// MT-Bench's single-answer grading prompt (with a reference when the item has one).
    public static let singlePrompt = """
        Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user \
        question displayed below. Consider helpfulness, relevance, accuracy, depth and level of detail. {reference_note}\
        Begin your evaluation with a short explanation. Be as objective as possible. After your explanation, rate the response \
        on a scale of 1 to 10 in exactly this format: "Rating: [[5]]".

        [Question]
        {question}
        {reference_block}
        [The Start of the Assistant's Answer]
        {answer}
        [The End of the Assistant's Answer]
        """

    /// MT-Bench's pairwise prompt.
    public static let pairPrompt = """
        Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the user \
        question displayed below. Choose the assistant that follows the user's instructions and answers the question better. \
        Do not let the order of the responses, their length or the assistants' names influence you. After a short explanation, \
        output your final verdict in exactly this format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, \
        and "[[C]]" for a tie.

        [User Question]
        {question}

        [The Start of Assistant A's Answer]
        {answer_a}
        [The End of Assistant A's Answer]

        [The Start of Assistant B's Answer]
        {answer_b}
        [The End of Assistant B's Answer]
        """

    func ask(_ text: String, id: String) async -> String? {
        await runtime.run(Query(prompt: text), id: "judge:\(id)").answer
    }

    /// Single-answer grading: the rating over 10, or nil with why.
    func grade(question: String, answer: String, reference: String?, id: String) async -> (score: Double?, detail: String) {
        let template = prompt ?? Self.singlePrompt
        let text = fill(
            template,
            [
                "question": question, "answer": answer, "reference": reference ?? "",
                "reference_note": reference == nil ? "" : "A reference answer is given; compare the response with it. ",
                "reference_block": reference.map { "\n[The Start of Reference Answer]\n\($0)\n[The End of Reference Answer]\n" } ?? "",
            ])
        guard let reply = await ask(text, id: id) else { return (nil, "the judge gave no reply") }
        guard let rating = Self.rating(in: reply) else { return (nil, "the judge gave no [[rating]]") }
        return (rating / 10, "rated \(Self.trim(rating))/10")
    }

    /// Pairwise against a baseline answer, both orders played: 1 win, 0 loss,
    /// 0.5 for a tie or when the two orders disagree (position bias cancels out).
    func compare(question: String, answer: String, baseline: String, id: String) async -> (score: Double, detail: String) {
        let template = prompt ?? Self.pairPrompt
        async let first = ask(fill(template, ["question": question, "answer_a": answer, "answer_b": baseline]), id: id + "#ab")
        async let second = ask(fill(template, ["question": question, "answer_a": baseline, "answer_b": answer]), id: id + "#ba")
        let (ab, ba) = await (first.flatMap(Self.verdict), second.flatMap(Self.verdict))
        // Map both to "does the candidate win": in the second order the candidate is B.
        let one: Double? = ab.map { $0 == "A" ? 1 : $0 == "B" ? 0 : 0.5 }
        let two: Double? = ba.map { $0 == "B" ? 1 : $0 == "A" ? 0 : 0.5 }
        switch (one, two) {
        case (let x?, let y?) where x == y: return (x, "both orders agree: \(x == 1 ? "win" : x == 0 ? "loss" : "tie")")
        case (.some, .some): return (0.5, "the orders disagree (\(ab ?? "?") then \(ba ?? "?")): a tie")
        default: return (0.5, "a verdict could not be read: counted as a tie")
        }
    }

    static func rating(in reply: String) -> Double? {
        guard let range = reply.range(of: #"\[\[(\d+(?:\.\d+)?)\]\]"#, options: [.regularExpression, .backwards]) else { return nil }
        let value = Double(reply[range].dropFirst(2).dropLast(2)) ?? -1
        return (1...10).contains(value) ? value : nil
    }

    static func verdict(_ reply: String) -> String? {
        for mark in ["[[A]]", "[[B]]", "[[C]]"].sorted(by: {
            (reply.range(of: $0, options: .backwards)?.lowerBound ?? reply.startIndex)
                > (reply.range(of: $1, options: .backwards)?.lowerBound ?? reply.startIndex)
        })
        where reply.contains(mark) {
            return String(mark.dropFirst(2).dropLast(2))
        }
        return nil
    }

    static func trim(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }

    func fill(_ template: String, _ values: [String: String]) -> String {
        var out = template
        // Longest names first, so {answer} does not eat {answer_a}.
        for (key, value) in values.sorted(by: { $0.key.count > $1.key.count }) { out = out.replacingOccurrences(of: "{\(key)}", with: value) }
        return out
    }
}
