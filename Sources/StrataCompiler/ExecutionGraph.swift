import StrataChecker
import StrataSyntax

/// What a node of the execution graph does: an LLM call, or a pure step.
package enum NodeOperation: String, Sendable, Codable, CaseIterable {
    // LLM calls
    case generate, critique, rank, fuse
    case verifyReasoning = "verify-reasoning"
    case verifyVerdict = "verify-verdict"
    case writeTests = "write-tests"
    case judgeTests = "judge-tests"
    // Pure steps
    /// Gathers the candidates of the calls it depends on into a pool.
    case collect
    case parseCritiques = "parse-critiques"
    /// Parses the permutation (repairing it deterministically) and keeps the top k.
    case selectTopK = "select-top-k"
    case filterVerdicts = "filter-verdicts"
    /// Runs one candidate's code against the tests in the sandbox.
    case executeTests = "execute-tests"
    /// Sorts candidates by tests passed and keeps the top k.
    case selectByTests = "select-by-tests"
    /// Puts the written tests into every later layer's query (a write-tests layer); yields no candidates.
    case showTests = "show-tests"
    /// Extracts each candidate's answer and keeps the most frequent (a vote layer).
    case vote
    /// The first candidate of the last pool.
    case answer
    /// Runs the branch a route chooses (each branch a graph of its own) and yields its pool.
    case route

    package var isCall: Bool {
        switch self {
        case .generate, .critique, .rank, .fuse, .verifyReasoning, .verifyVerdict, .writeTests, .judgeTests: true
        default: false
        }
    }

    init(_ role: CallRole) {
        switch role {
        case .generate: self = .generate
        case .critique: self = .critique
        case .rank: self = .rank
        case .fuse: self = .fuse
        case .verifyReasoning: self = .verifyReasoning
        case .verifyVerdict: self = .verifyVerdict
        case .writeTests: self = .writeTests
        case .judgeTests: self = .judgeTests
        }
    }
}

/// What one LLM call of the graph sends, decided when the pipeline is
/// compiled: the runtime adds only the query (its text and its seed).
package struct CallSpec: Sendable, Codable, Hashable {
    /// Index into `ExecutionGraph.models` (and the pipeline's models).
    package var model: Int
    /// Index of the layer's entry that makes the call.
    package var entry: Int
    /// Which of the layer's prompt templates the call renders.
    package var template: CallRole
    /// That template's text: the entry's own prompt, or the layer's for the role.
    package var prompt: String
    /// Per model within a layer, 0-based: distinct samples stay distinct in the cache.
    /// A call asking for several completions makes samples `sample ..< sample + completions`.
    package var sample: Int?
    /// Completions this call asks for: an entry's samples go in one request
    /// with `n` when its model declares that capability (the prompt is billed once).
    package var completions: Int
    /// The sampling sent: the seed is the entry's plus the sample index (before the query's seed is added).
    package var sampling: Sampling
    /// Whether the reply is asked for as JSON against a schema (rank, verdicts with structured output).
    package var structured: Bool
    /// Whether the call asks for token log-probabilities, and with how many
    /// alternatives per token: candidate-making calls of a model that declares
    /// `logprobs`, with alternatives when a vote filters on group confidence.
    package var logprobs: Int? = nil
}

/// One node of the graph for one query. Dependencies always have smaller ids,
/// so the node array is already in a topological order.
package struct GraphNode: Sendable, Codable, Hashable {
    package var id: Int
    /// Index of the layer in the pipeline; the final `answer` step has the index of the last layer.
    package var layer: Int
    package var operation: NodeOperation
    /// What the call sends (calls only).
    package var call: CallSpec?
    /// The incoming candidate this node works on (verify, unit-test): its
    /// position in the previous layer's pool or, when it depends directly on
    /// a call of a generating layer, that call's position among the layer's calls.
    package var candidate: Int?
    /// Worst-case estimated prompt tokens (calls only), once however many completions it asks for.
    package var inputTokens: Int
    /// `max_tokens` times the completions asked for (calls only).
    package var outputTokens: Int
    /// Estimated seconds this node takes once started, with waves for concurrency limits.
    package var seconds: Double
    package var dependencies: [Int]

    /// The call's model (index into `ExecutionGraph.models`).
    package var model: Int? { call?.model }
    /// The layer's entry that makes the call.
    package var entry: Int? { call?.entry }
    /// The call's first sample.
    package var sample: Int? { call?.sample }
    /// Completions the call asks for (1 for a pure step).
    package var completions: Int { call?.completions ?? 1 }
    /// The call's seed, before the query's seed is added.
    package var seed: Int? { call?.sampling.seed }
    package var temperature: Double? { call?.sampling.temperature }
}

/// A layer as the runtime executes it: what its pure steps need to know
/// (its calls carry the rest in their `CallSpec`s).
package struct LayerSpec: Sendable, Codable, Hashable {
    /// Where the layer is in the source (`GraphNode.layer`).
    package var index: Int
    package var kind: LayerKind
    package var topK: Int?
    package var firstK: Int?
    package var onEmpty: EmptyPolicy?
    package var onFailure: FailurePolicy
    package var onMalformed: MalformedPolicy
    /// Unit tests: how many, from where, and whether they are executed or judged.
    package var tests: Int
    package var testSource: TestSource?
    package var mode: UnitTestMode?
    /// The sandbox's limits for executed tests.
    package var timeoutSeconds: Double
    package var memoryMB: Int
    /// `write-tests`: whether every later layer's query carries the tests.
    package var showsTests: Bool
    package var lengthControl: Bool
    /// A vote: how each candidate's answer is read, when it stops drawing samples, and how many it draws at a time.
    package var extractor: AnswerExtractorKind?
    package var earlyStop: EarlyStop?
    /// Samples in flight at once while an early stop draws them; nil for the model's `max_in_flight`.
    package var wave: Int?
    /// How the vote counts answers, and the share of the most confident candidates it counts.
    package var weight: VoteWeight?
    package var keep: Double?
    /// A route: how it chooses (its branches' graphs are `ExecutionGraph.routes`).
    package var route: RouteRule?
    /// An ensemble that goes on with the first `quorum` samples to arrive.
    package var quorum: Int?

    init(_ layer: CheckedLayer) {
        index = layer.index
        kind = layer.kind
        topK = layer.topK
        firstK = layer.firstK
        onEmpty = layer.onEmpty
        onFailure = layer.onFailure
        onMalformed = layer.onMalformed
        tests = layer.tests
        testSource = layer.testSource
        mode = layer.mode
        timeoutSeconds = layer.timeoutSeconds
        memoryMB = layer.memoryMB
        showsTests = layer.showsTests
        lengthControl = layer.lengthControl
        extractor = layer.extractor
        earlyStop = layer.earlyStop
        wave = layer.wave
        weight = layer.weight
        keep = layer.keep
        route = layer.route
        quorum = layer.quorum
    }
}

/// The compiled form of a pipeline for one query: one node per LLM call (at
/// its worst case) plus the pure steps between them — everything the
/// runtime needs to run it.
public struct ExecutionGraph: Sendable, Codable {
    /// The pipeline's name.
    public var pipeline: String
    /// The models the calls go to (`CallSpec.model` indexes them).
    package var models: [ResolvedModel]
    /// The layers in order (`GraphNode.layer` is a layer's `index`, its place in the source).
    package var layers: [LayerSpec]
    package var nodes: [GraphNode]
    /// The node whose output is the answer.
    package var answer: Int
    /// `budget.latency_s`: when it runs out, the query answers with what it has.
    package var latencyBudget: Double?
    /// Each route layer's branches (by the layer's `index`), compiled in full:
    /// the graph keeps every branch, and a query runs the one its route chooses.
    package var routes: [Int: [RouteBranch]] = [:]
    /// A `classify` route's call that rates the query (by the layer's `index`).
    package var classifiers: [Int: CallSpec] = [:]

    /// The call nodes a query can run at worst: this graph's, and its routes'
    /// branches' (every branch of a cascade, the costliest of a match).
    package var worstCaseCallNodes: Int {
        var count = nodes.filter(\.operation.isCall).count
        for layer in layers {
            guard let branches = routes[layer.index] else { continue }
            let perBranch = branches.map(\.graph.worstCaseCallNodes)
            if case .cascade? = layer.route { count += perBranch.reduce(0, +) } else { count += perBranch.max() ?? 0 }
            if classifiers[layer.index] != nil { count += 1 }
        }
        return count
    }

    /// The position of the ensemble layer: first, or second after `write-tests`.
    package var ensemblePosition: Int { layers.firstIndex { $0.kind == .ensemble } ?? 0 }
}

/// One branch of a route, compiled: its name, its graph and its worst case.
package struct RouteBranch: Sendable, Codable {
    package var name: String
    package var graph: ExecutionGraph
    package var cost: CostSummary
}
