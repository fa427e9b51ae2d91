import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSandbox
import StrataSyntax

/// `verify`: per candidate, a reasoning call and a verdict call; the candidates judged correct go on.
struct VerifyExecutor: NodeExecutor {
    var operations: [NodeOperation] { [.verifyReasoning, .verifyVerdict, .filterVerdicts] }

    func run(_ context: NodeContext) async throws -> NodeOutput {
        switch context.node.operation {
        case .verifyReasoning:
            guard let candidate = context.candidate else { return .skipped }
            return try await verifyReasoning(context, candidate: candidate)
        case .verifyVerdict:
            guard case .reasoning(let candidate, let reasoning)? = context.inputs.first else { return .skipped }
            guard let reasoning else { return .verdict(nil) }
            return try await verdict(context, candidate: candidate, reasoning: reasoning)
        default:
            return .pool(Pool(candidates: try filterVerdicts(context, pool: try context.nonEmptyPool(), verdicts: Array(context.inputs.dropFirst()))))
        }
    }

    func verifyReasoning(_ node: NodeContext, candidate: Candidate) async throws -> NodeOutput {
        guard let spec = node.node.call else { return .skipped }
        let messages = PromptRenderer.candidatePrompt(spec.prompt, query: PromptRenderer.queryText(node.messages), candidate: candidate.text)
        let result = await node.calls.call(spec, messages: messages, candidate: node.node.candidate)
        if case .failure(.cancelled) = result { throw CancellationError() }
        return .reasoning(candidate, try? result.get())
    }

    /// The verdict on one candidate, asked again with new seeds while it cannot be read.
    func verdict(_ node: NodeContext, candidate: Candidate, reasoning: String) async throws -> NodeOutput {
        guard let spec = node.node.call else { return .verdict(nil) }
        let messages = PromptRenderer.candidatePrompt(
            spec.prompt, query: PromptRenderer.queryText(node.messages), candidate: candidate.text, extra: ["reasoning": reasoning],
            suffix: spec.structured ? VerdictReply.format.instruction : "")
        for attempt in 0...node.malformedRetries {
            let result = await node.calls.call(
                spec, messages: messages, candidate: node.node.candidate, seedOffset: attempt * 1_000_003,
                schema: spec.structured ? VerdictReply.format.schema : nil)
            switch result {
            case .success(let text):
                if let verdict = ReplyParsers.verdict(text) { return .verdict(verdict) }
            case .failure(.cancelled):
                throw CancellationError()
            case .failure:
                break
            }
        }
        return .verdict(nil)
    }

    /// Keeps the candidates judged correct, in pool order. With `first_k`, the
    /// first k correct ones (the driver stops the rest once they are known).
    func filterVerdicts(_ node: NodeContext, pool: Pool, verdicts: [NodeOutput]) throws -> [Candidate] {
        let layer = node.layer, context = node.calls
        var kept: [Candidate] = []
        var unverified: [Candidate] = []
        for (index, candidate) in pool.candidates.enumerated() {
            var verdict: Bool?
            if case .verdict(let value)? = node.perCandidate(verdicts, pool: pool, index: index) { verdict = value }
            switch verdict {
            case true?: kept.append(candidate)
            case false?: context.note("[\(index + 1)] judged incorrect")
            case nil:
                context.note("[\(index + 1)] unverified: no readable verdict (counted as not correct)")
                unverified.append(candidate)
            }
            if let k = layer.firstK, kept.count == k { break }
        }
        // A verdict that could not be read is no judgement: with none judged correct, those candidates go on
        // rather than the query failing because of a hard-to-read reply.
        if kept.isEmpty, !unverified.isEmpty, layer.onEmpty != .keepAll {
            context.note("no candidate was judged correct; passing on the \(unverified.count) whose verdict could not be read")
            return unverified
        }
        if kept.isEmpty {
            switch layer.onEmpty {
            case .keepAll?:
                context.note("no candidate was judged correct; keeping all \(pool.candidates.count) (on_empty: keep-all)")
                return pool.candidates
            case .fail?: throw QueryFailure(reason: "no candidate was judged correct (on_empty: fail)")
            case nil: context.note("no candidate was judged correct")
            }
        }
        return kept
    }
}

/// The verdict call's structured reply.
enum VerdictReply {
    static let format = ReplyFormat.object(
        "verdict", property: "verdict", #"{"type":"string","enum":["correct","incorrect"]}"#,
        instruction: "\nAnswer in JSON: {\"verdict\": \"correct\"} or {\"verdict\": \"incorrect\"}.")
}

/// `first_k`: the driver stops a verify layer's remaining calls once its answer is known.
enum FirstK {
    /// Whether the first `k` correct candidates in pool order are known: every
    /// candidate before the k-th correct one has finished.
    static func isKnown(_ k: Int, verdicts: [Bool?], finished: [Bool]) -> Bool {
        var correct = 0
        for index in verdicts.indices {
            guard finished[index] else { return false }
            if verdicts[index] == true {
                correct += 1
                if correct == k { return true }
            }
        }
        return false
    }
}
