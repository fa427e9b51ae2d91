import Foundation
import StrataRuntime
import StrataSandbox
import StrataSyntax

/// How an answer is scored against its item. Every scorer returns a score in
/// [0, 1] (1 = correct) and, when it cannot score, a reason.
///
/// - `exact`: the answer equals the reference exactly (after trimming surrounding whitespace).
/// - `normalized`: equal after the `exact` extractor: whitespace folded, case folded, a final period dropped.
/// - `numeric`: the final number of the answer (`#### N`, else `\boxed{N}`, else the last
///   number) equals the reference's number (same extraction; thousands separators, decimals,
///   fractions and units handled). Stricter than Archon, which accepts any answer that merely
///   contains the right number somewhere.
/// - `regex:PATTERN`: the answer matches PATTERN (anywhere; anchor it to be strict).
/// - `contains`: the reference appears in the answer, case-insensitively.
/// - `code`: HumanEval-style execution: the item's code prefix (its prompt, with imports), the
///   answer's code, then the item's tests and `check(entry_point)`, run in the sandbox; 1 when
///   the program exits 0 within the limits.
/// - `judge`: single-answer grading by an LLM judge, 1–10 (MT-Bench's prompt, with the reference
///   when the item has one), scored as rating / 10; no readable `[[rating]]` scores 0 with a reason.
/// - `pairwise`: the judge compares the answer with a baseline pipeline's, both orders played;
///   1 win, 0 loss, 0.5 for a tie or when the orders disagree.
public enum Scorer: Sendable, CustomStringConvertible {
    case exact
    case normalized
    case numeric
    case regex(String)
    case contains
    case code
    case judge(Judge)
    case pairwise(Judge, baseline: PipelineRuntime, baselineName: String)

    /// The scorer `strata eval --scorer` names (`exact`, `numeric`, `regex:…`, …); nil when unknown.
    public init?(_ text: String) {
        switch text {
        case "exact": self = .exact
        case "normalized": self = .normalized
        case "numeric": self = .numeric
        case "contains": self = .contains
        case "code": self = .code
        default:
            guard text.hasPrefix("regex:"), (try? NSRegularExpression(pattern: String(text.dropFirst(6)))) != nil else { return nil }
            self = .regex(String(text.dropFirst(6)))
        }
    }

    /// The scorer as the CLI spells it.
    public var description: String {
        switch self {
        case .exact: "exact"
        case .normalized: "normalized"
        case .numeric: "numeric"
        case .regex(let pattern): "regex:\(pattern)"
        case .contains: "contains"
        case .code: "code"
        case .judge(let judge): "judge:\(judge.name)"
        case .pairwise(let judge, _, let baseline): "pairwise:\(judge.name) vs \(baseline)"
        }
    }

    /// The scorer that suits a dataset: code where items carry tests and a
    /// prompt to complete, numeric where references are numbers, else by format.
    public static func `default`(for dataset: LoadedDataset) -> Scorer {
        if let item = dataset.items.first {
            if item.tests != nil, item.codePrefix != nil { return .code }
            if let reference = item.reference,
                AnswerExtractor.extract(.numeric, from: reference) == reference.trimmingCharacters(in: .whitespaces)
            {
                return .numeric
            }
        }
        switch dataset.format {
        case .humaneval: return .code
        case .gsm8k, .reasoningGym: return .numeric
        default: return .normalized
        }
    }

    /// An answer's score.
    public struct Outcome: Sendable, Hashable, Codable {
        /// The score, from 0 to 1.
        public var score: Double
        /// Why the item could not be scored or scored 0, when there is something to say.
        public var detail: String?
    }

    /// Scores `answer` against `item`; code runs in the sandbox under `limits`.
    public func score(answer: String, item: DatasetItem, limits: SandboxLimits = SandboxLimits(wallSeconds: 10)) async -> Outcome {
        switch self {
        case .exact:
            guard let reference = item.reference else { return Outcome(score: 0, detail: "no reference") }
            return Outcome(score: answer.trimmingCharacters(in: .whitespacesAndNewlines) == reference.trimmingCharacters(in: .whitespacesAndNewlines) ? 1 : 0)
        case .normalized:
            guard let reference = item.reference else { return Outcome(score: 0, detail: "no reference") }
            return Outcome(score: AnswerExtractor.extract(.exact, from: answer) == AnswerExtractor.extract(.exact, from: reference) ? 1 : 0)
        case .numeric:
            guard let reference = item.reference, let expected = AnswerExtractor.extract(.numeric, from: reference) else {
                return Outcome(score: 0, detail: "the reference has no number")
            }
            guard let found = AnswerExtractor.extract(.numeric, from: answer) else { return Outcome(score: 0, detail: "no number in the answer") }
            return Outcome(score: Self.sameNumber(found, expected) ? 1 : 0, detail: found == expected ? nil : "answered \(found), expected \(expected)")
        case .regex(let pattern):
            let regex = try? NSRegularExpression(pattern: pattern)
            let matched = regex?.firstMatch(in: answer, range: NSRange(answer.startIndex..., in: answer)) != nil
            return Outcome(score: matched ? 1 : 0)
        case .contains:
            guard let reference = item.reference else { return Outcome(score: 0, detail: "no reference") }
            return Outcome(score: answer.range(of: reference, options: [.caseInsensitive]) != nil ? 1 : 0)
        case .code:
            guard let tests = item.tests else { return Outcome(score: 0, detail: "the item has no tests") }
            // The verdict is the checker's: the test program must run to its end, not merely exit 0.
            let check = await Sandbox.check(
                solution: Self.solution(answer: answer, prefix: item.codePrefix), tests: [tests], prelude: item.codePrefix, limits: limits)
            if check.result.timedOut { return Outcome(score: 0, detail: "timed out") }
            if check.passed == [true] { return Outcome(score: 1) }
            let lastError = check.result.stderr.split(separator: "\n").last.map(String.init) ?? "exit \(check.result.exitStatus)"
            return Outcome(score: 0, detail: String(lastError.prefix(200)))
        case .judge(let judge):
            let question = item.query.messages.last?.content ?? ""
            let (score, detail) = await judge.grade(question: question, answer: answer, reference: item.reference, id: item.id)
            return Outcome(score: score ?? 0, detail: detail)
        case .pairwise(let judge, let baseline, _):
            guard let baselineAnswer = await baseline.run(item.query, id: "baseline:\(item.id)").answer else {
                return Outcome(score: 1, detail: "the baseline gave no answer: a win")
            }
            let question = item.query.messages.last?.content ?? ""
            let (score, detail) = await judge.compare(question: question, answer: answer, baseline: baselineAnswer, id: item.id)
            return Outcome(score: score, detail: detail)
        }
    }

    static func sameNumber(_ a: String, _ b: String) -> Bool {
        guard let x = Double(a), let y = Double(b) else { return a == b }
        return abs(x - y) <= 1e-9 * max(1, abs(x), abs(y))
    }

    /// The HumanEval solution: the prompt (for its imports and helpers), then the answer's code.
    static func solution(answer: String, prefix: String?) -> String {
        let code = AnswerExtractor.extract(.code, from: answer) ?? answer
        guard let prefix else { return code }
        // A complete function replaces the prompt's stub; a bare body continues it.
        let continuesPrompt = !code.contains("def ") && code.hasPrefix(" ")
        return continuesPrompt ? prefix + code : prefix + "\n    pass\n\n" + code
    }
}
