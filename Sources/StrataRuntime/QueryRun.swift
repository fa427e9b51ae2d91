import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders

/// One query run as a dataflow over the pipeline's execution graph: every
/// node starts as soon as the nodes it depends on have finished, so a verify
/// or unit-test step on one candidate starts when that candidate exists, and
/// tests are written while the candidates are. All of the run's mutable state
/// lives in `drive()`'s loop; node work runs in tasks that report back to it.
final class QueryRun: @unchecked Sendable {
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

    init(runtime: PipelineRuntime, query: Query, id: String, onDelta: (@Sendable (String) -> Void)?,
         onLayer: (@Sendable (LayerReport) -> Void)?) {
        self.runtime = runtime
        self.plan = runtime.plan
        self.query = query
        self.queryID = id
        self.onDelta = onDelta
        self.onLayer = onLayer
        contexts = runtime.pipeline.layers.map { [started] in LayerContext(runtime: runtime, layer: $0, query: id, origin: started) }
    }

    typealias Completion = (node: Int, result: Result<NodeOutput, Error>)

    func drive() async -> RunResult {
        let nodes = plan.graph.nodes
        let layers = runtime.pipeline.layers
        let (completions, sink) = AsyncStream.makeStream(of: Completion.self)
        var remaining = nodes.map(\.dependencies.count)
        var outputs = [NodeOutput?](repeating: nil, count: nodes.count)
        /// Nodes that are no longer needed: they finish as `.skipped` instead of running.
        var unneeded = Set<Int>()
        var layerStart = [Date?](repeating: nil, count: layers.count)
        var reports: [LayerReport] = []
        var notices: [String] = []
        var failure: String?
        var inFlight = 0
        var ready = nodes.filter(\.dependencies.isEmpty).map(\.id)
        // Call nodes wait here, per model and in order, until the model has room: a task
        // exists only for calls that can soon be sent, so 100,000 ready calls cost 100,000
        // queue entries, not 100,000 suspended tasks.
        let models = runtime.pipeline.models
        var waitingCalls = [[Int]](repeating: [], count: models.count)
        var waitingHead = [Int](repeating: 0, count: models.count)
        var runningCalls = [Int](repeating: 0, count: models.count)
        let callRoom = models.map { 2 * $0.maxInFlight }
        // Rules that spend less than the worst case: samples held for their wave, and a quorum.
        var waves = WaveRelease(plan.earlyStop)
        var quorum = QuorumWatch(pipeline: runtime.pipeline, plan: plan)
        var held = Set<Int>()

        func apply(_ decision: RuleDecision) {
            if let note = decision.note { contexts[note.layer].note(note.text) }
            for call in decision.unneeded {
                unneeded.insert(call)
                if held.remove(call) != nil { ready.append(call) }
            }
            if !decision.unneeded.isEmpty { tasks.cancel(Set(decision.unneeded)) }
            for call in decision.release where held.remove(call) != nil { ready.append(call) }
        }

        func report(layer position: Int, pool: Pool) {
            let context = contexts[position]
            var usage = context.usage
            usage.seconds = Date().timeIntervalSince(layerStart[position] ?? started)
            let inputPool = position == 0 ? 0 : (outputs[plan.poolNodes[position - 1]]?.pool?.candidates.count ?? 0)
            let report = LayerReport(index: layers[position].index, kind: layers[position].kind.rawValue, candidatesIn: inputPool,
                                     candidates: pool.candidates, notes: context.notes, usage: usage)
            reports.append(report)
            notices += context.fallbacks.map { "layer \(layers[position].index + 1) (\(layers[position].kind.rawValue)): \($0)" }
            onLayer?(report)
        }

        func finish(_ id: Int, _ output: NodeOutput) {
            outputs[id] = output
            let position = plan.layerOf[id]
            if plan.poolNodes[position] == id, id != plan.answer, let pool = output.pool { report(layer: position, pool: pool) }
            if nodes[id].operation == .verifyVerdict, let k = layers[position].firstK {
                let verdictNodes = layerVerdictNodes(position)
                let verdicts = verdictNodes.map { outputs[$0].flatMap { if case .verdict(let verdict) = $0 { verdict } else { nil } } }
                let finished = verdictNodes.map { outputs[$0] != nil }
                if FirstK.isKnown(k, verdicts: verdicts, finished: finished) {
                    for node in verdictNodes where outputs[node] == nil {
                        unneeded.insert(node)
                        unneeded.insert(nodes[node].dependencies[0])
                    }
                    tasks.cancel(unneeded)
                }
            }
            for dependent in plan.dependents[id] {
                remaining[dependent] -= 1
                if remaining[dependent] == 0 { ready.append(dependent) }
            }
            if let decision = quorum?.after(id, outputs: outputs) { apply(decision) }
            if let decision = waves?.after(id, outputs: outputs) { apply(decision) }
        }

        // budget.latency_s holds at run time too: when it runs out, the query answers with what it has.
        let deadline = runtime.pipeline.budget.latencySeconds
        var deadlineReached = false
        if let deadline {
            tasks.start(Self.deadlineNode) {
                try? await Task.sleep(nanoseconds: UInt64(max(0, deadline) * 1e9))
                if !Task.isCancelled { sink.yield((Self.deadlineNode, .success(.skipped))) }
            }
        }
        var iterator = completions.makeAsyncIterator()
        await withTaskCancellationHandler {
            while failure == nil, outputs[plan.answer] == nil {
                func launch(_ id: Int) {
                    let position = plan.layerOf[id]
                    if layerStart[position] == nil { layerStart[position] = Date() }
                    let inputs = nodes[id].dependencies.map { outputs[$0] ?? .skipped }
                    inFlight += 1
                    tasks.start(id) { [self] in
                        let result: Result<NodeOutput, Error>
                        do {
                            try Task.checkCancellation()
                            result = .success(try await work(nodes[id], inputs: inputs))
                        } catch {
                            result = .failure(error)
                        }
                        sink.yield((id, result))
                    }
                }
                // In id order, so calls queue up in the order the graph lists them (sample 0 first).
                let batch = ready
                ready.removeAll(keepingCapacity: true)
                for id in batch {
                    if unneeded.contains(id) {
                        finish(id, .skipped)
                    } else if waves?.holds(id) == true {
                        held.insert(id)
                    } else if nodes[id].operation.isCall, let model = nodes[id].model {
                        waitingCalls[model].append(id)
                    } else {
                        launch(id)
                    }
                }
                for model in models.indices {
                    while runningCalls[model] < callRoom[model], waitingHead[model] < waitingCalls[model].count {
                        let id = waitingCalls[model][waitingHead[model]]
                        waitingHead[model] += 1
                        if unneeded.contains(id) {
                            finish(id, .skipped)
                            continue
                        }
                        runningCalls[model] += 1
                        launch(id)
                    }
                    if waitingHead[model] == waitingCalls[model].count, waitingHead[model] > 0 {
                        waitingCalls[model].removeAll(keepingCapacity: true)
                        waitingHead[model] = 0
                    }
                }
                if !ready.isEmpty { continue }
                if outputs[plan.answer] != nil || inFlight == 0 { break }
                guard let (id, result) = await iterator.next() else { break }
                if id == Self.deadlineNode {
                    deadlineReached = true
                    break
                }
                inFlight -= 1
                if nodes[id].operation.isCall, let model = nodes[id].model { runningCalls[model] -= 1 }
                tasks.finished(id)
                switch result {
                case .success where unneeded.contains(id):
                    // Cancelled too late to stop it: its result is still not wanted (a quorum is a quorum).
                    finish(id, .skipped)
                case .success(let output):
                    finish(id, output)
                case .failure where unneeded.contains(id):
                    finish(id, .skipped)
                case .failure(let error):
                    let layer = layers[plan.layerOf[id]]
                    if let stop = error as? QueryFailure {
                        failure = "layer \(layer.index + 1) (\(layer.kind.rawValue)): \(stop.reason)"
                    } else if error is CancellationError || (error as? ProviderError) == .cancelled {
                        failure = "cancelled"
                    } else {
                        failure = "layer \(layer.index + 1) (\(layer.kind.rawValue)): \(error)"
                    }
                    // The failing layer is reported with nothing, like every layer before it that finished.
                    if reports.count == plan.layerOf[id] { report(layer: plan.layerOf[id], pool: .empty) }
                }
            }
        } onCancel: {
            tasks.cancelAll()
        }
        tasks.cancelAll()
        sink.finish()
        if Task.isCancelled, failure == nil, outputs[plan.answer] == nil { failure = "cancelled" }

        var pool = outputs[plan.answer]?.pool ?? .empty
        if deadlineReached, failure == nil, outputs[plan.answer] == nil {
            pool = anytimePool(reports: reports, outputs: outputs)
            let running = layers[min(reports.count, layers.count - 1)]
            let kept = reports.last.map { "layer \($0.index + 1) (\($0.kind))'s pool" } ?? "the samples that had arrived"
            let notice = "the latency budget of \(deadline ?? 0) s ran out during layer \(running.index + 1) (\(running.kind.rawValue)); "
                + (pool.candidates.isEmpty ? "no candidate existed yet" : "answered from \(kept), and the later layers did not run")
            notices.append(notice)
            contexts[min(reports.count, layers.count - 1)].note(notice)  // into the trace
            if pool.candidates.isEmpty { failure = "the latency budget of \(deadline ?? 0) s ran out before any candidate existed" }
        }
        if failure == nil, pool.candidates.isEmpty { failure = "the last layer left no candidate" }
        var total = reports.reduce(RunUsage()) { $0 + $1.usage }
        // Calls still in flight when the query stopped are counted where their layer's context recorded them.
        for position in reports.count..<contexts.count { total = total + contexts[position].usage }
        total.seconds = Date().timeIntervalSince(started)
        if failure == nil, let answer = pool.candidates.first, answer.truncated == true {
            notices.append("the answer stopped at its max_tokens limit and may be cut off (\(answer.origin)); raise 'max_tokens' on the layer that wrote it for longer answers")
        }
        let timeline = contexts.flatMap(\.spans).sorted { ($0.start, $0.layer) < ($1.start, $1.layer) }
        return RunResult(answer: failure == nil ? pool.candidates.first?.text : nil, failure: failure, layers: reports, usage: total,
                         notices: notices, timeline: timeline)
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
final class TaskRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var running: [Int: Task<Void, Never>] = [:]
    private var stopped = false

    func start(_ id: Int, _ work: @escaping @Sendable () async -> Void) {
        lock.withLock {
            let task = Task(operation: work)
            running[id] = task
            if stopped { task.cancel() }
        }
    }

    func finished(_ id: Int) { lock.withLock { _ = running.removeValue(forKey: id) } }

    func cancel(_ ids: Set<Int>) { lock.withLock { for id in ids { running[id]?.cancel() } } }

    func cancelAll() {
        lock.withLock {
            stopped = true
            for task in running.values { task.cancel() }
        }
    }
}
