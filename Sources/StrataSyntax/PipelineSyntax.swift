import Foundation
import StrataDiagnostics

/// The layer kinds of Grammar/README.md.
public enum LayerKind: String, Sendable, Codable, CaseIterable {
    case ensemble, critique, rank, fuse, verify
    case unitTest = "unit-test"
    /// Self-consistency: keeps the candidates whose extracted answer is most frequent. No model calls.
    case vote
    /// Tests written from the query before the ensemble, shown to every later
    /// layer (Archon's unit-test generator) and graded by `test_source: written`.
    case writeTests = "write-tests"

    /// Layers that make new candidates (and so drop critiques).
    public var makesCandidates: Bool { self == .ensemble || self == .fuse }
    /// Layers that read the critiques attached to candidates.
    public var readsCritiques: Bool { self == .rank || self == .fuse }
    /// Layers that call no model.
    public var callsNoModel: Bool { self == .vote }
}

/// When a vote stops drawing the ensemble's samples (`early_stop`).
public enum EarlyStop: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Once the leading answer cannot be overtaken by the samples left: the
    /// same winner as counting every sample.
    case unbeatable
    /// Also once the probability that the leading answer is the majority
    /// answer reaches this level (a Beta posterior over the top two answers'
    /// counts, as in Adaptive-Consistency).
    case confidence(Double)

    public var description: String {
        switch self {
        case .unbeatable: "unbeatable"
        case .confidence(let level): "confidence \(level)"
        }
    }

    /// Whether a leading answer with `leader` votes against the runner-up's
    /// `second`, with `remaining` samples not drawn, settles the vote.
    public func isSettled(leader: Int, second: Int, remaining: Int) -> Bool {
        if leader > second + remaining { return true }
        if case .confidence(let level) = self { return Self.majorityProbability(leader: leader, second: second) >= level }
        return false
    }

    /// P(p > ½) for p ~ Beta(leader + 1, second + 1): the chance, under a
    /// uniform prior, that the leading answer wins a head-to-head majority
    /// with the runner-up. For integer parameters it is a binomial sum:
    /// P(Binomial(leader + second + 1, ½) ≤ leader).
    public static func majorityProbability(leader: Int, second: Int) -> Double {
        let n = leader + second + 1
        var term = 1.0  // C(n, 0)
        var sum = 0.0
        for k in 0...leader {
            if k > 0 { term *= Double(n - k + 1) / Double(k) }
            sum += term
        }
        return sum / pow(2, Double(n))
    }

    /// The fewest of `samples` a vote drawing `wave` at a time can stop at:
    /// when every sample drawn agrees.
    public func fewestDraws(samples: Int, wave: Int) -> Int {
        var drawn = min(max(1, wave), samples)
        while drawn < samples, !isSettled(leader: drawn, second: 0, remaining: samples - drawn) { drawn = min(samples, drawn + max(1, wave)) }
        return drawn
    }
}

/// How a final answer is read out of a response, for voting and scoring.
public enum AnswerExtractorKind: String, Sendable, Codable, CaseIterable {
    /// The final number: `#### N`, else `\boxed{N}`, else the last number; normalized.
    case numeric
    /// The contents of the last `\boxed{…}`.
    case boxed
    /// The first fenced code block, whitespace-normalized.
    case code
    /// The whole text, trimmed and case-folded.
    case exact
}

public enum Provider: String, Sendable, Codable, CaseIterable {
    case openai
    case anthropic
    case openaiCompatible = "openai-compatible"
}

/// What a filtering layer does when it would leave no candidate.
public enum EmptyPolicy: String, Sendable, Codable, CaseIterable {
    /// Pass the layer's input pool on unchanged (Archon's behaviour).
    case keepAll = "keep-all"
    /// Fail the query with a reason.
    case fail
}

public enum UnitTestMode: String, Sendable, Codable, CaseIterable {
    /// Natural-language assertions graded by a model.
    case judge
    /// Executable Python tests run in the sandbox.
    case execute
}

public enum TestSource: String, Sendable, Codable, CaseIterable {
    /// A model writes the tests.
    case model
    /// The dataset item carries its own tests (execute mode only).
    case dataset
    /// The pipeline's `write-tests` layer wrote them.
    case written
}

/// Whether rank asks for JSON-schema output. (Not `on`/`off`: YAML 1.1 tools
/// read those as booleans.)
public enum StructuredOutput: String, Sendable, Codable, CaseIterable {
    /// When the model declares the capability.
    case auto
    case always
    case never
}

/// What critique does with a reply it cannot parse after its retries.
public enum MalformedPolicy: String, Sendable, Codable, CaseIterable {
    case fail
    /// Pass the pool on without critiques.
    case passThrough = "pass-through"
}

/// What a layer does when every one of its model calls fails (after retries).
public enum FailurePolicy: String, Sendable, Codable, CaseIterable {
    /// Fail the query with the reason.
    case fail
    /// Pass on the first (best-ranked) candidate the layer was given: fuse's default,
    /// so a query never ends without an answer while a candidate exists.
    case bestCandidate = "best-candidate"
    /// Pass the layer's input pool on unchanged.
    case passThrough = "pass-through"

    /// The policy of a layer that does not say: fuse falls back, the rest fail.
    public static func defaultPolicy(for kind: LayerKind) -> FailurePolicy {
        kind == .fuse ? .bestCandidate : .fail
    }
}

/// Sampling settings as written; nil where the file is silent.
public struct SamplingSyntax: Sendable {
    public var temperature: Located<Double>?
    public var maxTokens: Located<Int>?
    public var topP: Located<Double>?
    public var seed: Located<Int>?

    public init() {}
}

/// A `models:` entry as written.
public struct ModelSyntax: Sendable {
    public var name: Located<String>
    public var range: SourceRange
    public var provider: Located<Provider>?
    public var model: Located<String>?
    public var baseURL: Located<String>?
    public var apiKeyEnv: [Located<String>] = []
    public var contextWindow: Located<Int>?
    public var priceInput: Located<Double>?
    public var priceOutput: Located<Double>?
    public var supportsN: Located<Bool>?
    public var supportsJSONSchema: Located<Bool>?
    public var supportsSeed: Located<Bool>?
    public var supportsStreaming: Located<Bool>?
    public var maxInFlight: Located<Int>?
    public var requestsPerMinute: Located<Int>?
    public var tokensPerMinute: Located<Int>?
    public var overheadMs: Located<Double>?
    public var tokensPerSecond: Located<Double>?

    public init(name: Located<String>, range: SourceRange) {
        self.name = name
        self.range = range
    }
}

/// The per-query `budget:` as written.
public struct BudgetSyntax: Sendable {
    public var range: SourceRange
    public var calls: Located<Int>?
    public var inputTokens: Located<Int>?
    public var outputTokens: Located<Int>?
    public var usd: Located<Double>?
    public var latencySeconds: Located<Double>?
    public var queryTokens: Located<Int>?

    public init(range: SourceRange) { self.range = range }
}

/// One model entry of a layer: a generator, a fuser, or the model of a
/// standalone layer.
public struct EntrySyntax: Sendable {
    public var model: Located<String>
    public var samples: Located<Int>?
    public var sampling: SamplingSyntax
    /// This entry's own prompt (an ensemble entry's system message), so one
    /// model's samples can take different approaches.
    public var prompt: Located<String>?
    public var range: SourceRange

    public init(
        model: Located<String>, samples: Located<Int>? = nil, sampling: SamplingSyntax = .init(), prompt: Located<String>? = nil,
        range: SourceRange
    ) {
        self.model = model
        self.samples = samples
        self.sampling = sampling
        self.prompt = prompt
        self.range = range
    }
}

/// One item of `layers:` as written.
public struct LayerSyntax: Sendable {
    public var kind: LayerKind
    /// Where the kind key (`rank:`) is written: what diagnostics about the layer point at.
    public var kindRange: SourceRange
    public var range: SourceRange
    public var entries: [EntrySyntax] = []
    /// Sampling written on a standalone layer (also copied into its entry).
    public var sampling = SamplingSyntax()
    public var prompt: Located<String>?
    /// `verdict_prompt` (verify) or `judge_prompt` (unit-test).
    public var secondPrompt: Located<String>?
    public var topK: Located<Int>?
    public var firstK: Located<Int>?
    public var lengthControl: Located<Bool>?
    public var onEmpty: Located<EmptyPolicy>?
    public var mode: Located<UnitTestMode>?
    public var tests: Located<Int>?
    public var testSource: Located<TestSource>?
    /// `write-tests`: whether later layers see the tests in their query.
    public var show: Located<Bool>?
    public var structured: Located<StructuredOutput>?
    public var onMalformed: Located<MalformedPolicy>?
    public var onFailure: Located<FailurePolicy>?
    public var timeoutSeconds: Located<Double>?
    public var memoryMB: Located<Int>?
    public var extractor: Located<AnswerExtractorKind>?
    public var earlyStop: Located<EarlyStop>?
    public var wave: Located<Int>?
    public var quorum: Located<Int>?

    public init(kind: LayerKind, kindRange: SourceRange, range: SourceRange) {
        self.kind = kind
        self.kindRange = kindRange
        self.range = range
    }
}

/// One file of the language as written: a pipeline, or a file of shared
/// models and defaults that pipelines include.
public struct PipelineSyntax: Sendable {
    public var file: String
    public var version: Located<Int>?
    public var name: Located<String>?
    public var description: Located<String>?
    public var includes: [Located<String>] = []
    public var models: [ModelSyntax] = []
    public var defaults = SamplingSyntax()
    public var budget: BudgetSyntax?
    public var layers: [LayerSyntax] = []
    /// Where each top-level key is written.
    public var topLevelKeys: [String: SourceRange] = [:]

    public init(file: String) { self.file = file }
}
