import StrataDiagnostics
import StrataSyntax

/// A model declaration with every default filled in.
public struct ResolvedModel: Sendable, Hashable, Codable {
    public var name: String
    public var provider: Provider
    public var modelID: String
    public var baseURL: String
    /// Names of environment variables holding keys, tried in order (rotated on quota errors).
    public var apiKeyEnv: [String]
    public var contextWindow: Int
    /// USD per million input / output tokens.
    public var priceInput: Double
    public var priceOutput: Double
    public var supportsN: Bool
    public var supportsJSONSchema: Bool
    public var supportsSeed: Bool
    public var supportsStreaming: Bool
    public var maxInFlight: Int
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// Fixed time per call (connection, queueing, prompt processing), for latency estimates.
    public var overheadMs: Double
    /// Generation speed, for latency estimates.
    public var tokensPerSecond: Double

    /// Estimated seconds for one call producing `outputTokens`.
    public func callSeconds(outputTokens: Int) -> Double {
        overheadMs / 1000 + Double(outputTokens) / tokensPerSecond
    }

    /// USD for one call.
    public func usd(input: Int, output: Int) -> Double {
        (Double(input) * priceInput + Double(output) * priceOutput) / 1_000_000
    }
}

/// Sampling settings with defaults applied.
public struct Sampling: Sendable, Hashable, Codable {
    public var temperature: Double
    public var maxTokens: Int
    public var topP: Double
    public var seed: Int

    public static let builtIn = Sampling(temperature: 0.7, maxTokens: 512, topP: 1, seed: 0)
}

/// Statically known pool size: the layer receives or yields between `min` and `max` candidates.
public struct PoolRange: Sendable, Hashable, Codable, CustomStringConvertible {
    public var min: Int
    public var max: Int

    public init(_ min: Int, _ max: Int) {
        self.min = min
        self.max = max
    }

    public var description: String { min == max ? "\(min)" : "\(min)…\(max)" }
}

/// One model of a layer: a generator, a fuser, or the model of a standalone layer.
public struct CheckedEntry: Sendable, Hashable, Codable {
    /// Index into `CheckedPipeline.models`.
    public var model: Int
    public var samples: Int
    public var sampling: Sampling
    /// The entry's own prompt, replacing the layer's for its calls.
    public var prompt: String?
}

/// The LLM calls a layer makes, by what they do.
public enum CallRole: String, Sendable, Codable, CaseIterable {
    case generate, critique, rank, fuse
    case verifyReasoning = "verify-reasoning"
    case verifyVerdict = "verify-verdict"
    case writeTests = "write-tests"
    case judgeTests = "judge-tests"
}

/// A layer after checking: resolved models and settings, pool sizes, prompts
/// and token estimates.
public struct CheckedLayer: Sendable, Codable {
    public var index: Int
    public var kind: LayerKind
    public var entries: [CheckedEntry]
    public var poolIn: PoolRange
    public var poolOut: PoolRange
    /// Upper bound of tokens in one candidate of the outgoing pool.
    public var candidateTokensOut: Int
    /// Whether the outgoing candidates carry critiques.
    public var critiquesOut: Bool
    public var topK: Int?
    public var firstK: Int?
    public var lengthControl: Bool
    public var onEmpty: EmptyPolicy?
    public var mode: UnitTestMode?
    public var tests: Int
    public var testSource: TestSource?
    /// `write-tests`: whether every later layer's query carries the tests.
    public var showsTests: Bool
    /// Rank asks for JSON-schema output.
    public var structuredOutput: Bool
    public var onMalformed: MalformedPolicy
    /// What happens when every call of the layer fails: fuse passes on its best
    /// input candidate unless the pipeline says otherwise.
    public var onFailure: FailurePolicy
    public var timeoutSeconds: Double
    public var memoryMB: Int
    /// How a vote layer reads each candidate's answer.
    public var extractor: AnswerExtractorKind?
    /// When a vote stops drawing samples, and how many it draws at a time.
    public var earlyStop: EarlyStop?
    public var wave: Int
    /// An ensemble that goes on with the first `quorum` samples to arrive and cancels the rest.
    public var quorum: Int?
    /// The prompt templates this layer sends, by role.
    public var prompts: [CallRole: String]
    /// Estimated input tokens of one call, by role (worst case).
    public var inputTokens: [CallRole: Int]
    /// Where the layer is written.
    public var range: SourceRange
}

/// Per-query limits; nil where the pipeline sets none.
public struct Budget: Sendable, Hashable, Codable {
    public var calls: Int?
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var usd: Double?
    public var latencySeconds: Double?
    /// The query size estimates assume.
    public var queryTokens: Int
    /// Where each limit is written, for diagnostics.
    public var ranges: [String: SourceRange]

    public static let defaultQueryTokens = 256
}

/// A pipeline that passed the checker (or, when it has errors, as much of it
/// as could be resolved).
public struct CheckedPipeline: Sendable, Codable {
    public var file: String
    public var name: String?
    public var models: [ResolvedModel]
    public var layers: [CheckedLayer]
    public var budget: Budget

    /// The position of the ensemble layer: first, or second after `write-tests`.
    public var ensemblePosition: Int { layers.firstIndex { $0.kind == .ensemble } ?? 0 }
}
