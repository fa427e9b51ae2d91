import StrataProviders

/// Strata's version, as `strata --version` and `GET /version` say it.
package enum StrataVersion {
    package static let current = "0.1.0"
}

/// A query: a conversation whose last message is the user's, and (for code
/// tasks in `unit-test` execute mode with `test_source: dataset`) its tests.
public struct Query: Sendable, Hashable, Codable {
    /// The conversation, its last message the question.
    public var messages: [ChatMessage]
    /// Python that checks a solution (e.g. HumanEval's `check` plus its call).
    public var tests: String?
    /// Varies every call's seed and cache key, so the same query with another
    /// seed is a new run and with the same seed a cache hit (nil: the pipeline's seeds as written).
    public var seed: Int?

    /// A query from a conversation.
    public init(messages: [ChatMessage], tests: String? = nil, seed: Int? = nil) {
        self.messages = messages
        self.tests = tests
        self.seed = seed
    }

    /// A query of one user message.
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
    /// The response.
    public var text: String
    /// The model and sample that wrote it, e.g. `local#3`.
    public var origin: String
    /// Attached by a critique layer; dropped by layers that make new candidates.
    public var critique: String?
    /// Tests passed, set by a unit-test layer.
    public var testsPassed: Int?
    /// True when the model stopped at `max_tokens`, so the text may end mid-sentence.
    public var truncated: Bool?
    /// How sure the model that wrote it was, when its model returns log-probabilities.
    public var confidence: Confidence?

    /// A candidate.
    public init(
        text: String, origin: String, critique: String? = nil, testsPassed: Int? = nil, truncated: Bool? = nil, confidence: Confidence? = nil
    ) {
        self.text = text
        self.origin = origin
        self.critique = critique
        self.testsPassed = testsPassed
        self.truncated = truncated
        self.confidence = confidence
    }
}

/// Calls, tokens, dollars and time, summed.
public struct RunUsage: Sendable, Hashable, Codable {
    /// Calls sent to a model (cache hits are counted apart, in `cacheHits`).
    public var calls = 0
    /// Calls answered from the cache.
    public var cacheHits = 0
    /// Calls that failed after their retries.
    public var failedCalls = 0
    /// Retries of failed attempts.
    public var retries = 0
    /// Input tokens.
    public var inputTokens = 0
    /// Output tokens.
    public var outputTokens = 0
    /// Tokens of the replies served from the cache (not in `inputTokens`/`outputTokens`, which were paid for).
    public var cachedInputTokens = 0
    /// Output tokens of the replies served from the cache.
    public var cachedOutputTokens = 0
    /// Of `inputTokens`, those the providers read from their prompt caches rather than processing them again.
    public var promptCachedTokens = 0
    /// Failed calls whose last answer was HTTP 429.
    public var rateLimitedCalls = 0
    /// US dollars, at the models' listed prices.
    public var usd = 0.0
    /// Wall-clock seconds.
    public var seconds = 0.0

    /// Nothing spent.
    public init() {}

    /// Decodes a usage; a field a run store written by an older build lacks is zero.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) throws -> Int { try container.decodeIfPresent(Int.self, forKey: key) ?? 0 }
        calls = try count(.calls)
        cacheHits = try count(.cacheHits)
        failedCalls = try count(.failedCalls)
        retries = try count(.retries)
        inputTokens = try count(.inputTokens)
        outputTokens = try count(.outputTokens)
        cachedInputTokens = try count(.cachedInputTokens)
        cachedOutputTokens = try count(.cachedOutputTokens)
        promptCachedTokens = try count(.promptCachedTokens)
        rateLimitedCalls = try count(.rateLimitedCalls)
        usd = try container.decodeIfPresent(Double.self, forKey: .usd) ?? 0
        seconds = try container.decodeIfPresent(Double.self, forKey: .seconds) ?? 0
    }

    enum CodingKeys: String, CodingKey {
        case calls, cacheHits, failedCalls, retries, inputTokens, outputTokens, cachedInputTokens, cachedOutputTokens, promptCachedTokens
        case rateLimitedCalls, usd, seconds
    }

    /// The sum of two usages.
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
        sum.promptCachedTokens += rhs.promptCachedTokens
        sum.rateLimitedCalls += rhs.rateLimitedCalls
        sum.usd += rhs.usd
        sum.seconds += rhs.seconds
        return sum
    }
}

/// What one layer did for one query.
public struct LayerReport: Sendable, Hashable, Codable {
    /// The layer's position, from 0.
    public var index: Int
    /// Its kind, e.g. `ensemble`.
    public var kind: String
    /// Candidates it received.
    public var candidatesIn: Int
    /// Candidates it passed on.
    public var candidates: [Candidate]
    /// Repairs, fallbacks, verdicts, rankings and failures, in words.
    public var notes: [String]
    /// What its calls cost.
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
    /// The answer; nil when the query failed.
    public var answer: String?
    /// Why it failed, when it did.
    public var failure: String?
    /// Set with `failure`.
    public var failureKind: FailureKind?
    /// Each layer's report, in order.
    public var layers: [LayerReport]
    /// What the query cost in all.
    public var usage: RunUsage
    /// What a reader of the answer must know: a fallback that produced it, or
    /// that it was cut at `max_tokens`.
    public var notices: [String] = []
    /// Every model call in time, when `RuntimeOptions.recordTimeline` is set.
    public var timeline: [CallSpan] = []
}

/// One line of the trace: a model call or a pure step of one query.
package struct TraceEvent: Sendable, Hashable, Codable {
    package var query: String
    package var layer: Int
    package var operation: String
    package var model: String?
    package var sample: Int?
    package var seed: Int?
    package var candidate: Int?
    /// Completions one request asked for (`n`), when more than one: samples `sample ..< sample + n`.
    package var completions: Int?
    package var inputTokens: Int = 0
    package var outputTokens: Int = 0
    /// Of the input tokens, those the provider read from its prompt cache.
    package var promptCachedTokens: Int = 0
    package var usd: Double = 0
    package var seconds: Double = 0
    package var cacheHit: Bool = false
    package var attempts: Int = 0
    package var error: String?
    package var note: String?
    /// How sure the model was of each completion, when the call asked for log-probabilities.
    package var confidence: [Confidence?]?

    enum CodingKeys: String, CodingKey {
        case query, layer, operation, model, sample, seed, candidate, completions = "n"
        case inputTokens = "input_tokens", outputTokens = "output_tokens", promptCachedTokens = "prompt_cached_tokens", usd, seconds
        case cacheHit = "cache_hit", attempts, error, note, confidence
    }
}
