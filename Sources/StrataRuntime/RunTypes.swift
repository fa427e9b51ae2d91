import StrataProviders

/// Strata's version, as `strata --version` and `GET /version` say it.
public enum StrataVersion {
    public static let current = "0.1.0"
}

/// A query: a conversation whose last message is the user's, and (for code
/// tasks in `unit-test` execute mode with `test_source: dataset`) its tests.
public struct Query: Sendable, Hashable, Codable {
    public var messages: [ChatMessage]
    /// Python that checks a solution (e.g. HumanEval's `check` plus its call).
    public var tests: String?
    /// Varies every call's seed and cache key, so the same query with another
    /// seed is a new run and with the same seed a cache hit (nil: the pipeline's seeds as written).
    public var seed: Int?

    public init(messages: [ChatMessage], tests: String? = nil, seed: Int? = nil) {
        self.messages = messages
        self.tests = tests
        self.seed = seed
    }

    public init(prompt: String, tests: String? = nil, seed: Int? = nil) {
        self.init(messages: [.user(prompt)], tests: tests, seed: seed)
    }

    /// What the query's seed adds to every call's seed: spread by a hash, so that
    /// seed 1 does not reuse the samples of seed 0 shifted by one.
    var seedOffset: Int {
        guard let seed else { return 0 }
        return Int((UInt64(bitPattern: Int64(seed)) &* 0x9E37_79B9_7F4A_7C15) >> 34)
    }
}

/// A candidate response in a pool.
public struct Candidate: Sendable, Hashable, Codable {
    public var text: String
    /// The model and sample that wrote it, e.g. `local#3`.
    public var origin: String
    /// Attached by a critique layer; dropped by layers that make new candidates.
    public var critique: String?
    /// Tests passed, set by a unit-test layer.
    public var testsPassed: Int?
    /// True when the model stopped at `max_tokens`, so the text may end mid-sentence.
    public var truncated: Bool?

    public init(text: String, origin: String, critique: String? = nil, testsPassed: Int? = nil, truncated: Bool? = nil) {
        self.text = text
        self.origin = origin
        self.critique = critique
        self.testsPassed = testsPassed
        self.truncated = truncated
    }
}

/// Calls, tokens, dollars and time, summed.
public struct RunUsage: Sendable, Hashable, Codable {
    public var calls = 0
    public var cacheHits = 0
    public var failedCalls = 0
    public var retries = 0
    public var inputTokens = 0
    public var outputTokens = 0
    /// Tokens of the replies served from the cache (not in `inputTokens`/`outputTokens`, which were paid for).
    public var cachedInputTokens = 0
    public var cachedOutputTokens = 0
    /// Failed calls whose last answer was HTTP 429.
    public var rateLimitedCalls = 0
    public var usd = 0.0
    /// Wall-clock seconds.
    public var seconds = 0.0

    public init() {}

    public static func + (lhs: RunUsage, rhs: RunUsage) -> RunUsage {
        var sum = lhs
        sum.calls += rhs.calls
        sum.cacheHits += rhs.cacheHits
        sum.failedCalls += rhs.failedCalls
        sum.retries += rhs.retries
        sum.inputTokens += rhs.inputTokens
        sum.outputTokens += rhs.outputTokens
        sum.cachedInputTokens += rhs.cachedInputTokens
        sum.cachedOutputTokens += rhs.cachedOutputTokens
        sum.rateLimitedCalls += rhs.rateLimitedCalls
        sum.usd += rhs.usd
        sum.seconds += rhs.seconds
        return sum
    }
}

/// What one layer did for one query.
public struct LayerReport: Sendable, Hashable, Codable {
    public var index: Int
    public var kind: String
    public var candidatesIn: Int
    public var candidates: [Candidate]
    /// Repairs, fallbacks, verdicts, rankings and failures, in words.
    public var notes: [String]
    public var usage: RunUsage
}

/// What kind of failure stopped a query: what a server answers it with.
public enum FailureKind: String, Sendable, Hashable, Codable {
    /// A layer was left empty while its model kept answering 429.
    case rateLimited = "rate_limited"
    /// A layer was left empty by network faults, upstream errors or malformed replies.
    case upstream
    /// Every call succeeded, but the layers left no answer (e.g. verify rejected every candidate): the same query fails again.
    case deterministic
    /// The latency budget ran out before any candidate existed.
    case timedOut = "timed_out"
    case cancelled
}

/// The result of one query: its answer (or why there is none), and what every layer did.
public struct RunResult: Sendable, Hashable, Codable {
    public var answer: String?
    public var failure: String?
    /// Set with `failure`.
    public var failureKind: FailureKind?
    public var layers: [LayerReport]
    public var usage: RunUsage
    /// What a reader of the answer must know: a fallback that produced it, or
    /// that it was cut at `max_tokens`.
    public var notices: [String] = []
    /// Every model call in time, when `RuntimeOptions.recordTimeline` is set.
    public var timeline: [CallSpan] = []
}

/// One line of the trace: a model call or a pure step of one query.
public struct TraceEvent: Sendable, Hashable, Codable {
    public var query: String
    public var layer: Int
    public var operation: String
    public var model: String?
    public var sample: Int?
    public var seed: Int?
    public var candidate: Int?
    /// Completions one request asked for (`n`), when more than one: samples `sample ..< sample + n`.
    public var completions: Int?
    public var inputTokens: Int = 0
    public var outputTokens: Int = 0
    public var usd: Double = 0
    public var seconds: Double = 0
    public var cacheHit: Bool = false
    public var attempts: Int = 0
    public var error: String?
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case query, layer, operation, model, sample, seed, candidate, completions = "n"
        case inputTokens = "input_tokens", outputTokens = "output_tokens", usd, seconds
        case cacheHit = "cache_hit", attempts, error, note
    }
}
