import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders
import Synchronization

/// One query run as a dataflow over the pipeline's execution graph: every
/// node starts as soon as the nodes it depends on have finished, so a verify
/// or unit-test step on one candidate starts when that candidate exists, and
/// tests are written while the candidates are. All of the run's mutable state
/// lives in its `QueryDriver`, owned by `drive()`'s loop; node work runs in
/// tasks that report back to it.
final class QueryRun: Sendable {
    let runtime: PipelineRuntime
    let plan: GraphPlan
    let query: Query
    let queryID: String
    let onDelta: (@Sendable (String) -> Void)?
    let onLayer: (@Sendable (LayerReport) -> Void)?
    /// One per layer: its calls, usage and notes.
    let contexts: [LayerContext]
    private let tasks = TaskRegistry()
    let started = Date()
    /// What a write-tests layer appends to the query of every later layer. Set
    /// once, by its show-tests step, before any node that reads it starts:
    /// every later node depends on that step.
    private let shownTests = Mutex<String?>(nil)

    init(
        runtime: PipelineRuntime, query: Query, id: String, onDelta: (@Sendable (String) -> Void)?,
        onLayer: (@Sendable (LayerReport) -> Void)?
    ) {
        self.runtime = runtime
        self.plan = runtime.plan
        self.query = query
        self.queryID = id
        self.onDelta = onDelta
        self.onLayer = onLayer
        contexts = runtime.graph.layers.map { [started] in
            LayerContext(runtime: runtime, layer: $0, query: id, querySeed: query.seedOffset, origin: started)
        }
    }

    typealias Completion = (node: Int, result: Result<NodeOutput, Error>)

    func drive() async -> RunResult {
        let (completions, sink) = AsyncStream.makeStream(of: Completion.self)
        var driver = QueryDriver(run: self, sink: sink)
        // budget.latency_s holds at run time too: when it runs out, the query answers with what it has.
        if let seconds = runtime.graph.latencyBudget {
            let deadline = Deadline(seconds: seconds, on: runtime.options.clock)
            tasks.start(Self.deadlineNode) {
                try? await deadline.wait()
                if !Task.isCancelled { sink.yield((Self.deadlineNode, .success(.skipped))) }
            }
        }
        var iterator = completions.makeAsyncIterator()
        await withTaskCancellationHandler {
            while driver.isRunning {
                driver.dispatchReady()
                if driver.hasReadyNodes { continue }
                if driver.isIdle { break }
                guard let completion = await iterator.next() else { break }
                driver.handle(completion)
            }
        } onCancel: {
            tasks.cancelAll()
        }
        tasks.cancelAll()
        sink.finish()
        return driver.conclude()
    }

    /// Starts a node's work in a task that reports its completion to `sink`.
    func start(_ node: GraphNode, inputs: [NodeOutput], sink: AsyncStream<Completion>.Continuation) {
        tasks.start(node.id) { [self] in
            let result: Result<NodeOutput, Error>
            do {
                try Task.checkCancellation()
                result = .success(try await work(node, inputs: inputs))
            } catch {
                result = .failure(error)
            }
            sink.yield((node.id, result))
        }
    }

    func finished(_ id: Int) { tasks.finished(id) }
    func cancel(_ ids: Set<Int>) { tasks.cancel(ids) }

    /// The query as the layers see it: after a write-tests layer that shows
    /// its tests, with them appended to the last user message (Archon's
    /// "Your response should pass the following unit tests").
    var queryMessages: [ChatMessage] {
        guard let suffix = shownTests.withLock({ $0 }) else { return query.messages }
        var messages = query.messages
        if let last = messages.lastIndex(where: { $0.role == .user }) { messages[last].content += suffix }
        return messages
    }

    func show(_ tests: TestSet) {
        let suffix =
            tests.executable.isEmpty
            ? "\n\nYour response should pass the following unit tests:\n" + tests.judged.map { "- \($0)" }.joined(separator: "\n")
            : "\n\nYour code should pass the following tests:\n```python\n" + tests.executable.joined(separator: "\n") + "\n```"
        shownTests.withLock { $0 = suffix }
    }

    /// No node has this id: the deadline's timer reports under it.
    static let deadlineNode = -1

    /// What a query that ran out of time answers from: the last complete
    /// layer's pool, or else the ensemble's samples that had arrived.
    func anytimePool(reports: [LayerReport], outputs: [NodeOutput?]) -> Pool {
        if let last = reports.last, !last.candidates.isEmpty { return Pool(candidates: last.candidates) }
        let arrived = plan.ensembleCalls.flatMap { call in
            (outputs[call]?.generatedSamples ?? []).compactMap { try? $0.get() }
        }
        return Pool(candidates: arrived)
    }

    /// The verdict nodes of a verify layer, in candidate order.
    func layerVerdictNodes(_ position: Int) -> [Int] {
        plan.graph.nodes[plan.poolNodes[position]].dependencies.filter { plan.graph.nodes[$0].operation == .verifyVerdict }
    }
}

/// The tasks running a query's nodes, so one node (no longer needed) or all
/// of them (the query was cancelled or failed) can be cancelled.
final class TaskRegistry: Sendable {
    private struct State {
        var running: [Int: Task<Void, Never>] = [:]
        var stopped = false
    }
    private let state = Mutex(State())

    func start(_ id: Int, _ work: @escaping @Sendable () async -> Void) {
        state.withLock {
            let task = Task(operation: work)
            $0.running[id] = task
            if $0.stopped { task.cancel() }
        }
    }

    func finished(_ id: Int) { state.withLock { _ = $0.running.removeValue(forKey: id) } }

    func cancel(_ ids: Set<Int>) { state.withLock { for id in ids { $0.running[id]?.cancel() } } }

    func cancelAll() {
        state.withLock {
            $0.stopped = true
            for task in $0.running.values { task.cancel() }
        }
    }
}
