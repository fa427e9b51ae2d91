import Foundation
import StrataCompiler
import StrataProviders

/// What a node's work may use of its query's run, and nothing more: the
/// query (as sent, and as its layer sees it), its layer's parameters, calls
/// and notes, and its inputs.
struct NodeContext: Sendable {
    let node: GraphNode
    let layer: LayerSpec
    let inputs: [NodeOutput]
    /// The query as the client sent it (a test writer sees it so).
    let query: Query
    /// The query as the layer sees it: with the tests a `write-tests` layer showed.
    let messages: [ChatMessage]
    /// The layer's calls, usage and notes.
    let calls: LayerContext
    /// Whether the layer's per-candidate nodes wait on the previous layer's calls
    /// rather than its pool (so a candidate's position is that of its call).
    let streamed: Bool
    /// How many candidates the layer's calls make.
    let layerCalls: Int
    /// Where the answer's text goes as it is written: set for the last layer's nodes only.
    let onDelta: (@Sendable (String) -> Void)?
    /// Retries of a reply that cannot be parsed, each with a new seed.
    let malformedRetries: Int
    /// The models' names, for the candidates' origins.
    let modelNames: [String]
    /// Shows tests to every later layer's query (a `write-tests` layer).
    let show: @Sendable (TestSet) -> Void
    /// A route's branches, each a runtime of its own; empty for other layers.
    var branches: [(name: String, runtime: PipelineRuntime)] = []
    /// A `classify` route's call that rates the query.
    var classifier: CallSpec? = nil

    /// The pool the node was given (the first of its inputs that is one).
    var pool: Pool { inputs.lazy.compactMap(\.pool).first ?? .empty }

    /// The pool it was given, which must not be empty: every layer after the first works on candidates.
    func nonEmptyPool() throws -> Pool {
        let pool = pool
        if pool.candidates.isEmpty { throw QueryFailure(reason: "no candidates to work on") }
        return pool
    }

    /// The candidate a per-candidate node works on: the reply of the call it
    /// waits for, or its position in the pool it waits for.
    var candidate: Candidate? {
        switch inputs.first {
        case .generated(.success(let candidate))?: return candidate
        case .pool(let pool)?:
            guard let index = node.candidate, index < pool.candidates.count else { return nil }
            return pool.candidates[index]
        default: return nil
        }
    }

    /// The output of the per-candidate node about the pool's candidate `index`.
    func perCandidate(_ outputs: [NodeOutput], pool: Pool, index: Int) -> NodeOutput? {
        let position = streamed ? pool.calls?[index] : index
        guard let position, position < outputs.count else { return nil }
        return outputs[position]
    }
}

/// What one kind of layer's nodes do, as Grammar/README.md defines the
/// layers: calls make candidates, critiques, rankings, verdicts and tests;
/// pure steps turn them into the layer's pool.
protocol NodeExecutor: Sendable {
    /// The node operations it runs.
    var operations: [NodeOperation] { get }
    func run(_ context: NodeContext) async throws -> NodeOutput
}

/// Every operation's executor, found by operation: a new kind of layer adds its type here.
enum NodeExecutors {
    static let all: [any NodeExecutor] = [
        GeneratingExecutor(), CritiqueExecutor(), RankExecutor(), VerifyExecutor(), VoteExecutor(), WriteTestsExecutor(), UnitTestExecutor(),
        AnswerExecutor(), RouteExecutor(),
    ]

    private static let byOperation: [NodeOperation: any NodeExecutor] = Dictionary(
        all.flatMap { executor in executor.operations.map { ($0, executor) } }, uniquingKeysWith: { first, _ in first })

    static func executor(for operation: NodeOperation) -> any NodeExecutor {
        guard let executor = byOperation[operation] else { preconditionFailure("no executor for \(operation): add its type to NodeExecutors.all") }
        return executor
    }
}

/// The final step: the last layer's pool.
struct AnswerExecutor: NodeExecutor {
    var operations: [NodeOperation] { [.answer] }

    func run(_ context: NodeContext) async throws -> NodeOutput { .pool(context.pool) }
}

extension QueryRun {
    func work(_ node: GraphNode, inputs: [NodeOutput]) async throws -> NodeOutput {
        let position = plan.layerOf[node.id]
        let isLast = position == runtime.graph.layers.count - 1
        let context = NodeContext(
            node: node, layer: runtime.graph.layers[position], inputs: inputs, query: query, messages: queryMessages, calls: contexts[position],
            streamed: plan.streamed[position], layerCalls: plan.callCounts[position], onDelta: isLast ? onDelta : nil,
            malformedRetries: runtime.options.malformedRetries, modelNames: runtime.graph.models.map(\.name), show: { [self] in show($0) },
            branches: node.operation == .route ? runtime.branches[position] ?? [] : [],
            classifier: node.operation == .route ? runtime.graph.classifiers[node.layer] : nil)
        return try await NodeExecutors.executor(for: node.operation).run(context)
    }
}
