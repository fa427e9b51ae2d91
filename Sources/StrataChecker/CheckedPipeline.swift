import StrataDiagnostics
import StrataSyntax

/// A model declaration with every default filled in.
package struct ResolvedModel: Sendable, Hashable, Codable {
    package var name: String
    package var provider: Provider
    package var modelID: String
    package var baseURL: String
    /// Names of environment variables holding keys, tried in order (rotated on quota errors).
    package var apiKeyEnv: [String]
    package var contextWindow: Int
    /// USD per million input / output tokens.
    package var priceInput: Double
    package var priceOutput: Double
    /// USD per million prompt tokens the provider read from its prompt cache.
    package var priceCachedInput: Double = 0
    package var supportsN: Bool
    package var supportsJSONSchema: Bool
    package var supportsSeed: Bool
    package var supportsStreaming: Bool
    /// Returns token log-probabilities on chat completions.
    package var supportsLogprobs: Bool = false
    /// Sends the provider's prompt-cache hints with each call.
    package var prefixCache: Bool = false
    package var maxInFlight: Int
    package var requestsPerMinute: Int?
    package var tokensPerMinute: Int?
    /// Fixed time per call (connection, queueing, prompt processing), for latency estimates.
    package var overheadMs: Double
    /// Generation speed, for latency estimates.
    package var tokensPerSecond: Double

    /// Estimated seconds for one call producing `outputTokens`.
    package func callSeconds(outputTokens: Int) -> Double {
        overheadMs / 1000 + Double(outputTokens) / tokensPerSecond
    }

    /// USD for one call, of whose `input` tokens `cachedInput` were read from the provider's prompt cache.
    package func usd(input: Int, output: Int, cachedInput: Int = 0) -> Double {
        let cached = min(max(0, cachedInput), input)
        return (Double(input - cached) * priceInput + Double(cached) * priceCachedInput + Double(output) * priceOutput) / 1_000_000
    }
}

/// Sampling settings with defaults applied.
package struct Sampling: Sendable, Hashable, Codable {
    package var temperature: Double
    package var maxTokens: Int
    package var topP: Double
    package var seed: Int

    package static let builtIn = Sampling(temperature: 0.7, maxTokens: 512, topP: 1, seed: 0)
}

/// Statically known pool size: the layer receives or yields between `min` and `max` candidates.
package struct PoolRange: Sendable, Hashable, Codable, CustomStringConvertible {
    package var min: Int
    package var max: Int

    package init(_ min: Int, _ max: Int) {
        self.min = min
        self.max = max
    }

    package var description: String { min == max ? "\(min)" : "\(min)…\(max)" }
}

/// One model of a layer: a generator, a fuser, or the model of a standalone layer.
package struct CheckedEntry: Sendable, Hashable, Codable {
    /// Index into `CheckedPipeline.models`.
    package var model: Int
    package var samples: Int
    package var sampling: Sampling
    /// The entry's own prompt, replacing the layer's for its calls.
    package var prompt: String?
}

/// The LLM calls a layer makes, by what they do.
package enum CallRole: String, Sendable, Codable, CaseIterable {
    case generate, critique, rank, fuse
    case verifyReasoning = "verify-reasoning"
    case verifyVerdict = "verify-verdict"
    case writeTests = "write-tests"
    case judgeTests = "judge-tests"
}

/// A layer after checking: resolved models and settings, pool sizes, prompts
/// and token estimates.
package struct CheckedLayer: Sendable, Codable {
    package var index: Int
    package var kind: LayerKind
    package var entries: [CheckedEntry]
    package var poolIn: PoolRange
    package var poolOut: PoolRange
    /// Upper bound of tokens in one candidate of the outgoing pool.
    package var candidateTokensOut: Int
    /// Whether the outgoing candidates carry critiques.
    package var critiquesOut: Bool
    package var topK: Int?
    package var firstK: Int?
    package var lengthControl: Bool
    package var onEmpty: EmptyPolicy?
    package var mode: UnitTestMode?
    package var tests: Int
    package var testSource: TestSource?
    /// `write-tests`: whether every later layer's query carries the tests.
    package var showsTests: Bool
    /// Rank asks for JSON-schema output.
    package var structuredOutput: Bool
    package var onMalformed: MalformedPolicy
    /// What happens when every call of the layer fails: fuse passes on its best
    /// input candidate unless the pipeline says otherwise.
    package var onFailure: FailurePolicy
    package var timeoutSeconds: Double
    package var memoryMB: Int
    /// How a vote layer reads each candidate's answer.
    package var extractor: AnswerExtractorKind?
    /// When a vote stops drawing samples, and how many it draws at a time.
    package var earlyStop: EarlyStop?
    /// Samples in flight at once while an early stop draws them; nil for the model's `max_in_flight`.
    package var wave: Int?
    /// How the vote counts answers.
    package var weight: VoteWeight?
    /// The share of candidates, the most confident, the vote counts.
    package var keep: Double?
    /// An ensemble that goes on with the first `quorum` samples to arrive and cancels the rest.
    package var quorum: Int?
    /// The prompt templates this layer sends, by role.
    package var prompts: [CallRole: String]
    /// Estimated input tokens of one call, by role (worst case).
    package var inputTokens: [CallRole: Int]
    /// Of a call's input, the shared context: the query and the incoming pool (critiques left out), and the
    /// query and one candidate. What a prompt cache can serve to a later call that opens with it.
    package var poolContextTokens: Int = 0
    package var candidateContextTokens: Int = 0
    /// Where the layer is written.
    package var range: SourceRange
    /// `route`: how it chooses, and its branches, each a pipeline of checked layers.
    package var route: RouteRule? = nil
    package var branches: [CheckedBranch] = []
}

/// A route's branch after checking.
package struct CheckedBranch: Sendable, Codable {
    package var name: String
    package var layers: [CheckedLayer]

    package init(name: String, layers: [CheckedLayer]) {
        self.name = name
        self.layers = layers
    }
}

/// Per-query limits; nil where the pipeline sets none.
package struct Budget: Sendable, Hashable, Codable {
    package var calls: Int?
    package var inputTokens: Int?
    package var outputTokens: Int?
    package var usd: Double?
    package var latencySeconds: Double?
    /// The query size estimates assume.
    package var queryTokens: Int
    /// Where each limit is written, for diagnostics.
    package var ranges: [String: SourceRange]

    package static let defaultQueryTokens = 256
}

/// A pipeline that passed the checker (or, when it has errors, as much of it
/// as could be resolved).
package struct CheckedPipeline: Sendable, Codable {
    package var file: String
    package var name: String?
    package var models: [ResolvedModel]
    package var layers: [CheckedLayer]
    package var budget: Budget

    /// The position of the ensemble layer: first, or second after `write-tests`.
    package var ensemblePosition: Int { layers.firstIndex { $0.kind == .ensemble } ?? 0 }
}
