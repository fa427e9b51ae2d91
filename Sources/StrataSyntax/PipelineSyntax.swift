import Foundation
import StrataDiagnostics

/// The layer kinds of Grammar/README.md.
package enum LayerKind: String, Sendable, Codable, CaseIterable {
    case ensemble, critique, rank, fuse, verify
    case unitTest = "unit-test"
    /// Self-consistency: keeps the candidates whose extracted answer is most frequent. No model calls.
    case vote
    /// Tests written from the query before the ensemble, shown to every later
    /// layer (Archon's unit-test generator) and graded by `test_source: written`.
    case writeTests = "write-tests"
    /// Chooses, per query, which of its branches (pipelines of their own) answers.
    case route

    /// Layers that make new candidates (and so drop critiques).
    package var makesCandidates: Bool { self == .ensemble || self == .fuse }
    /// Layers that read the critiques attached to candidates.
    package var readsCritiques: Bool { self == .rank || self == .fuse }
    /// Layers that call no model themselves (a route's branches make its calls).
    package var callsNoModel: Bool { self == .vote || self == .route }
}

/// When a vote stops drawing the ensemble's samples (`early_stop`).
package enum EarlyStop: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Once the leading answer cannot be overtaken by the samples left: the
    /// same winner as counting every sample.
    case unbeatable
    /// Also once the probability that the leading answer is the majority
    /// answer reaches this level (a Beta posterior over the top two answers'
    /// counts, as in Adaptive-Consistency).
    case confidence(Double)
    /// Once this many consecutive samples, the last ones drawn, agree
    /// (Early-Stopping Self-Consistency's window).
    case window(Int)
    /// Once the leading answer holds this share of the votes drawn, with at
    /// least two of them (DeepConf's consensus threshold; with
    /// `weight: confidence` the shares are of the confidence weights).
    case consensus(Double)

    package var description: String {
        switch self {
        case .unbeatable: "unbeatable"
        case .confidence(let level): "confidence \(level)"
        case .window(let size): "window \(size)"
        case .consensus(let share): "consensus \(share)"
        }
    }

    /// Whether the samples drawn so far settle the vote.
    package func isSettled(_ tally: VoteTally) -> Bool {
        // Each sample left weighs at most 1, so this leader cannot be overtaken.
        if tally.leader > tally.second + Double(tally.remaining) { return true }
        switch self {
        case .unbeatable:
            return false
        case .confidence(let level):
            // Weights are rescaled to sum to the samples drawn: confidence moves
            // votes between answers without adding evidence.
            let scale = tally.total > 0 ? Double(tally.drawn) / tally.total : 0
            return Self.majorityProbability(leader: tally.leader * scale, second: tally.second * scale) >= level
        case .window(let size):
            return tally.run >= size
        case .consensus(let share):
            return tally.leaderCount >= 2 && tally.total > 0 && tally.leader / tally.total >= share
        }
    }

    /// P(p > ½) for p ~ Beta(leader + 1, second + 1): the chance, under a
    /// uniform prior, that the leading answer wins a head-to-head majority
    /// with the runner-up. Counts may be fractional (weighted votes).
    package static func majorityProbability(leader: Double, second: Double) -> Double {
        IncompleteBeta.regularized(x: 0.5, a: second + 1, b: leader + 1)
    }

    /// The fewest of `samples` a vote can stop at: when every sample drawn
    /// agrees, each with full weight.
    package func fewestDraws(samples: Int) -> Int {
        var drawn = 1
        while drawn < samples, !isSettled(VoteTally(unanimous: drawn, remaining: samples - drawn)) { drawn += 1 }
        return drawn
    }
}

/// The votes of the samples drawn so far, in the shape the rules read.
package struct VoteTally: Sendable, Hashable {
    /// The leading answer's votes (weights, with `weight: confidence`).
    package var leader: Double
    /// The runner-up's.
    package var second: Double
    /// Every readable sample's.
    package var total: Double
    /// How many samples voted for the leading answer.
    package var leaderCount: Int
    /// Samples drawn (a prefix, in sample order).
    package var drawn: Int
    /// How many of the last samples drawn agree with each other.
    package var run: Int
    /// Samples not drawn.
    package var remaining: Int

    package init(leader: Double, second: Double, total: Double, leaderCount: Int, drawn: Int, run: Int, remaining: Int) {
        self.leader = leader
        self.second = second
        self.total = total
        self.leaderCount = leaderCount
        self.drawn = drawn
        self.run = run
        self.remaining = remaining
    }

    /// `drawn` samples that all agree, each with full weight.
    package init(unanimous drawn: Int, remaining: Int) {
        self.init(
            leader: Double(drawn), second: 0, total: Double(drawn), leaderCount: drawn, drawn: drawn, run: drawn, remaining: remaining)
    }
}

/// How a `route` layer chooses its branch.
package enum RouteRule: Sendable, Hashable, Codable {
    /// Run the branches in order, answering from the first whose answer clears
    /// the threshold (the last always answers): FrugalGPT's cascade.
    case cascade(measure: CascadeMeasure, threshold: Double)
    /// The first arm whose condition the query meets names the branch; else the default.
    case match(arms: [MatchArm], otherwise: String)
    /// One call (the layer's entry) rates the query; the table maps its rating
    /// to a branch, and an unreadable or unlisted rating goes to the default.
    case classify(prompt: String, table: [Int: String], otherwise: String)

    /// The default prompt of a `classify` route.
    package static let classifyPrompt = """
        Rate how hard the user's question is to answer correctly, from 1 (trivial: a fact or one step) \
        to 5 (very hard: many steps, or easy to get wrong). Reply with the digit only.
        """
}

/// What a cascade measures of a branch's answer.
package enum CascadeMeasure: String, Sendable, Hashable, Codable, CaseIterable {
    /// The share of the branch's first-layer candidates whose answer is the branch's answer.
    case agreement
    /// The answer's path probability (its model must declare logprobs).
    case confidence
}

/// One arm of a `match` route.
package struct MatchArm: Sendable, Hashable, Codable {
    package enum Condition: Sendable, Hashable, Codable, CustomStringConvertible {
        /// The query's text matches the regular expression.
        case regex(String)
        /// The query has more characters than this.
        case longerThan(Int)
        /// The query has fewer characters than this.
        case shorterThan(Int)

        package var description: String {
            switch self {
            case .regex(let pattern): "regex \(pattern)"
            case .longerThan(let count): "longer than \(count) characters"
            case .shorterThan(let count): "shorter than \(count) characters"
            }
        }

        /// Whether a query's text meets it.
        package func holds(for text: String) -> Bool {
            switch self {
            case .regex(let pattern): (try? NSRegularExpression(pattern: pattern))?.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
            case .longerThan(let count): text.count > count
            case .shorterThan(let count): text.count < count
            }
        }
    }
    package var condition: Condition
    package var branch: String
    package var range: SourceRange

    package init(condition: Condition, branch: String, range: SourceRange) {
        self.condition = condition
        self.branch = branch
        self.range = range
    }
}

/// A `route` layer's branch: a name and a pipeline of its own.
package struct BranchSyntax: Sendable {
    package var name: Located<String>
    package var layers: [LayerSyntax]
    package var range: SourceRange

    package init(name: Located<String>, layers: [LayerSyntax], range: SourceRange) {
        self.name = name
        self.layers = layers
        self.range = range
    }
}

/// How a vote counts its candidates' answers.
package enum VoteWeight: String, Sendable, Hashable, Codable, CaseIterable {
    /// One vote per candidate: self-consistency.
    case count
    /// Each candidate's vote is its completion's path probability (the
    /// geometric-mean token probability): RPC's probability-weighted vote.
    case confidence
}

/// How a final answer is read out of a response, for voting and scoring.
package enum AnswerExtractorKind: String, Sendable, Codable, CaseIterable {
    /// The final number: `#### N`, else `\boxed{N}`, else the last number; normalized.
    case numeric
    /// The contents of the last `\boxed{…}`.
    case boxed
    /// The first fenced code block, whitespace-normalized.
    case code
    /// The whole text, trimmed and case-folded.
    case exact
}

package enum Provider: String, Sendable, Codable, CaseIterable {
    case openai
    case anthropic
    case openaiCompatible = "openai-compatible"
}

/// What a filtering layer does when it would leave no candidate.
package enum EmptyPolicy: String, Sendable, Codable, CaseIterable {
    /// Pass the layer's input pool on unchanged (Archon's behaviour).
    case keepAll = "keep-all"
    /// Fail the query with a reason.
    case fail
}

package enum UnitTestMode: String, Sendable, Codable, CaseIterable {
    /// Natural-language assertions graded by a model.
    case judge
    /// Executable Python tests run in the sandbox.
    case execute
}

package enum TestSource: String, Sendable, Codable, CaseIterable {
    /// A model writes the tests.
    case model
    /// The dataset item carries its own tests (execute mode only).
    case dataset
    /// The pipeline's `write-tests` layer wrote them.
    case written
}

/// Whether rank asks for JSON-schema output. (Not `on`/`off`: YAML 1.1 tools
/// read those as booleans.)
package enum StructuredOutput: String, Sendable, Codable, CaseIterable {
    /// When the model declares the capability.
    case auto
    case always
    case never
}

/// What critique does with a reply it cannot parse after its retries.
package enum MalformedPolicy: String, Sendable, Codable, CaseIterable {
    case fail
    /// Pass the pool on without critiques.
    case passThrough = "pass-through"
}

/// What a layer does when every one of its model calls fails (after retries).
package enum FailurePolicy: String, Sendable, Codable, CaseIterable {
    /// Fail the query with the reason.
    case fail
    /// Pass on the first (best-ranked) candidate the layer was given: fuse's default,
    /// so a query never ends without an answer while a candidate exists.
    case bestCandidate = "best-candidate"
    /// Pass the layer's input pool on unchanged.
    case passThrough = "pass-through"

    /// The policy of a layer that does not say: fuse falls back, the rest fail.
    package static func defaultPolicy(for kind: LayerKind) -> FailurePolicy {
        kind == .fuse ? .bestCandidate : .fail
    }
}

/// Sampling settings as written; nil where the file is silent.
package struct SamplingSyntax: Sendable {
    package var temperature: Located<Double>?
    package var maxTokens: Located<Int>?
    package var topP: Located<Double>?
    package var seed: Located<Int>?

    package init() {}
}

/// A `models:` entry as written.
package struct ModelSyntax: Sendable {
    package var name: Located<String>
    package var range: SourceRange
    package var provider: Located<Provider>?
    package var model: Located<String>?
    package var baseURL: Located<String>?
    package var apiKeyEnv: [Located<String>] = []
    package var contextWindow: Located<Int>?
    package var priceInput: Located<Double>?
    package var priceOutput: Located<Double>?
    /// USD per million prompt tokens read from the provider's prompt cache.
    package var priceCachedInput: Located<Double>?
    package var supportsN: Located<Bool>?
    package var supportsJSONSchema: Located<Bool>?
    package var supportsSeed: Located<Bool>?
    /// The server returns token log-probabilities on chat completions.
    package var supportsLogprobs: Located<Bool>?
    package var supportsStreaming: Located<Bool>?
    /// Send the provider's prompt-cache hints (OpenAI `prompt_cache_key`, Anthropic `cache_control`, llama.cpp `cache_prompt`).
    package var prefixCache: Located<Bool>?
    package var maxInFlight: Located<Int>?
    package var requestsPerMinute: Located<Int>?
    package var tokensPerMinute: Located<Int>?
    package var overheadMs: Located<Double>?
    package var tokensPerSecond: Located<Double>?

    package init(name: Located<String>, range: SourceRange) {
        self.name = name
        self.range = range
    }
}

/// The per-query `budget:` as written.
package struct BudgetSyntax: Sendable {
    package var range: SourceRange
    package var calls: Located<Int>?
    package var inputTokens: Located<Int>?
    package var outputTokens: Located<Int>?
    package var usd: Located<Double>?
    package var latencySeconds: Located<Double>?
    package var queryTokens: Located<Int>?

    package init(range: SourceRange) { self.range = range }
}

/// One model entry of a layer: a generator, a fuser, or the model of a
/// standalone layer.
package struct EntrySyntax: Sendable {
    package var model: Located<String>
    package var samples: Located<Int>?
    package var sampling: SamplingSyntax
    /// This entry's own prompt (an ensemble entry's system message), so one
    /// model's samples can take different approaches.
    package var prompt: Located<String>?
    package var range: SourceRange

    package init(
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
package struct LayerSyntax: Sendable {
    package var kind: LayerKind
    /// Where the kind key (`rank:`) is written: what diagnostics about the layer point at.
    package var kindRange: SourceRange
    package var range: SourceRange
    package var entries: [EntrySyntax] = []
    /// Sampling written on a standalone layer (also copied into its entry).
    package var sampling = SamplingSyntax()
    package var prompt: Located<String>?
    /// `verdict_prompt` (verify) or `judge_prompt` (unit-test).
    package var secondPrompt: Located<String>?
    package var topK: Located<Int>?
    package var firstK: Located<Int>?
    package var lengthControl: Located<Bool>?
    package var onEmpty: Located<EmptyPolicy>?
    package var mode: Located<UnitTestMode>?
    package var tests: Located<Int>?
    package var testSource: Located<TestSource>?
    /// `write-tests`: whether later layers see the tests in their query.
    package var show: Located<Bool>?
    package var structured: Located<StructuredOutput>?
    package var onMalformed: Located<MalformedPolicy>?
    package var onFailure: Located<FailurePolicy>?
    package var timeoutSeconds: Located<Double>?
    package var memoryMB: Located<Int>?
    package var extractor: Located<AnswerExtractorKind>?
    package var earlyStop: Located<EarlyStop>?
    package var wave: Located<Int>?
    /// `vote`: how answers are counted.
    package var weight: Located<VoteWeight>?
    /// `vote`: the fraction of candidates, the most confident, counted (DeepConf's offline filter).
    package var keep: Located<Double>?
    /// `route`: how it chooses, and its branches in file order.
    package var routeRule: Located<RouteRule>?
    package var branches: [BranchSyntax] = []
    package var quorum: Located<Int>?

    package init(kind: LayerKind, kindRange: SourceRange, range: SourceRange) {
        self.kind = kind
        self.kindRange = kindRange
        self.range = range
    }
}

/// One file of the language as written: a pipeline, or a file of shared
/// models and defaults that pipelines include.
package struct PipelineSyntax: Sendable {
    package var file: String
    package var version: Located<Int>?
    package var name: Located<String>?
    package var description: Located<String>?
    package var includes: [Located<String>] = []
    package var models: [ModelSyntax] = []
    package var defaults = SamplingSyntax()
    package var budget: BudgetSyntax?
    package var layers: [LayerSyntax] = []
    /// Where each top-level key is written.
    package var topLevelKeys: [String: SourceRange] = [:]

    package init(file: String) { self.file = file }
}
