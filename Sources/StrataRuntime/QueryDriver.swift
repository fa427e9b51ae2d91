import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders

/// The mutable state of one query's dataflow, owned by `QueryRun.drive()`'s
/// loop and touched by nothing else: which nodes wait for how many inputs,
/// their outputs, the calls waiting for room at their model, the spending
/// rules, and the layer reports made so far.
struct QueryDriver {
    let run: QueryRun
    let sink: AsyncStream<QueryRun.Completion>.Continuation
    let nodes: [GraphNode]
    let layers: [LayerSpec]
    var remaining: [Int]
    var outputs: [NodeOutput?]
    /// Nodes that are no longer needed: they finish as `.skipped` instead of running.
    var unneeded = Set<Int>()
    var layerStart: [Date?]
    var reports: [LayerReport] = []
    var notices: [String] = []
    var failure: String?
    var deadlineReached = false
    var inFlight = 0
    var ready: [Int]
    // Call nodes wait here, per model and in order, until the model has room: a task
    // exists only for calls that can soon be sent, so 100,000 ready calls cost 100,000
    // queue entries, not 100,000 suspended tasks.
    var waitingCalls: [[Int]]
    var waitingHead: [Int]
    var runningCalls: [Int]
    let callRoom: [Int]
    // Rules that spend less than the worst case: samples held for their wave, and a quorum.
    var waves: WaveRelease?
    var quorum: QuorumWatch?
    var held = Set<Int>()

    init(run: QueryRun, sink: AsyncStream<QueryRun.Completion>.Continuation) {
        self.run = run
        self.sink = sink
        nodes = run.plan.graph.nodes
        layers = run.runtime.graph.layers
        remaining = nodes.map(\.dependencies.count)
        outputs = [NodeOutput?](repeating: nil, count: nodes.count)
        layerStart = [Date?](repeating: nil, count: layers.count)
        ready = nodes.filter(\.dependencies.isEmpty).map(\.id)
        let models = run.runtime.graph.models
        waitingCalls = [[Int]](repeating: [], count: models.count)
        waitingHead = [Int](repeating: 0, count: models.count)
        runningCalls = [Int](repeating: 0, count: models.count)
        callRoom = models.map { 2 * $0.maxInFlight }
        waves = WaveRelease(run.plan.earlyStop)
        quorum = QuorumWatch(graph: run.runtime.graph, plan: run.plan)
    }

    var plan: GraphPlan { run.plan }
    var isRunning: Bool { failure == nil && outputs[plan.answer] == nil && !deadlineReached }
    var hasReadyNodes: Bool { !ready.isEmpty }
    var isIdle: Bool { outputs[plan.answer] != nil || inFlight == 0 }

    // MARK: starting nodes

    /// Starts what is ready: pure steps at once, calls in id order (so they
    /// queue in the order the graph lists them, sample 0 first) as their model has room.
    mutating func dispatchReady() {
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
        for model in waitingCalls.indices { sendWaitingCalls(of: model) }
    }

    mutating func sendWaitingCalls(of model: Int) {
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

    mutating func launch(_ id: Int) {
        let position = plan.layerOf[id]
        if layerStart[position] == nil { layerStart[position] = Date() }
        inFlight += 1
        run.start(nodes[id], inputs: nodes[id].dependencies.map { outputs[$0] ?? .skipped }, sink: sink)
    }

    // MARK: finishing nodes

    /// A node's task reported back.
    mutating func handle(_ completion: QueryRun.Completion) {
        let (id, result) = completion
        if id == QueryRun.deadlineNode {
            deadlineReached = true
            return
        }
        inFlight -= 1
        if nodes[id].operation.isCall, let model = nodes[id].model { runningCalls[model] -= 1 }
        run.finished(id)
        switch result {
        case .success where unneeded.contains(id):
            // Cancelled too late to stop it: its result is still not wanted (a quorum is a quorum).
            finish(id, .skipped)
        case .success(let output):
            finish(id, output)
        case .failure where unneeded.contains(id):
            finish(id, .skipped)
        case .failure(let error):
            fail(id, error)
        }
    }

    mutating func fail(_ id: Int, _ error: Error) {
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

    mutating func finish(_ id: Int, _ output: NodeOutput) {
        outputs[id] = output
        let position = plan.layerOf[id]
        if plan.poolNodes[position] == id, id != plan.answer, let pool = output.pool { report(layer: position, pool: pool) }
        if nodes[id].operation == .verifyVerdict, let k = layers[position].firstK { stopVerifyingOnceKnown(k, layer: position) }
        for dependent in plan.dependents[id] {
            remaining[dependent] -= 1
            if remaining[dependent] == 0 { ready.append(dependent) }
        }
        if let decision = quorum?.after(id, outputs: outputs) { apply(decision) }
        if let decision = waves?.after(id, outputs: outputs) { apply(decision) }
    }

    /// `first_k`: once the first k correct candidates are known, the other verdicts are not needed.
    mutating func stopVerifyingOnceKnown(_ k: Int, layer position: Int) {
        let verdictNodes = run.layerVerdictNodes(position)
        let verdicts = verdictNodes.map { outputs[$0].flatMap { if case .verdict(let verdict) = $0 { verdict } else { nil } } }
        let finished = verdictNodes.map { outputs[$0] != nil }
        guard FirstK.isKnown(k, verdicts: verdicts, finished: finished) else { return }
        for node in verdictNodes where outputs[node] == nil {
            unneeded.insert(node)
            unneeded.insert(nodes[node].dependencies[0])
        }
        run.cancel(unneeded)
    }

    mutating func apply(_ decision: RuleDecision) {
        if let note = decision.note { run.contexts[note.layer].note(note.text) }
        if let note = decision.traceNote { run.contexts[note.layer].traceNote(note.text) }
        for call in decision.unneeded {
            unneeded.insert(call)
            if held.remove(call) != nil {
                ready.append(call)
            } else if outputs[call] != nil {
                // Arrived before the rule fired, but past the prefix it judged: not counted, so the vote is the same whatever the order of arrival.
                outputs[call] = .skipped
            }
        }
        if !decision.unneeded.isEmpty { run.cancel(Set(decision.unneeded)) }
        for call in decision.release where held.remove(call) != nil { ready.append(call) }
    }

    mutating func report(layer position: Int, pool: Pool) {
        let context = run.contexts[position]
        var usage = context.usage
        usage.seconds = Date().timeIntervalSince(layerStart[position] ?? run.started)
        let inputPool = position == 0 ? 0 : (outputs[plan.poolNodes[position - 1]]?.pool?.candidates.count ?? 0)
        let report = LayerReport(
            index: layers[position].index, kind: layers[position].kind.rawValue, candidatesIn: inputPool,
            candidates: pool.candidates, notes: context.notes, usage: usage)
        reports.append(report)
        notices += context.fallbacks.map { "layer \(layers[position].index + 1) (\(layers[position].kind.rawValue)): \($0)" }
        run.onLayer?(report)
    }

    // MARK: the result

    /// The run's result once the loop has stopped: the answer, or the anytime
    /// answer when the latency budget ran out, or why there is none.
    mutating func conclude() -> RunResult {
        if Task.isCancelled, failure == nil, outputs[plan.answer] == nil { failure = "cancelled" }
        var pool = outputs[plan.answer]?.pool ?? .empty
        if deadlineReached, failure == nil, outputs[plan.answer] == nil { pool = answerOutOfTime() }
        if failure == nil, pool.candidates.isEmpty { failure = "the last layer left no candidate" }
        var total = reports.reduce(RunUsage()) { $0 + $1.usage }
        // Calls still in flight when the query stopped are counted where their layer's context recorded them.
        for position in reports.count..<run.contexts.count { total = total + run.contexts[position].usage }
        total.seconds = Date().timeIntervalSince(run.started)
        if failure == nil, let answer = pool.candidates.first, answer.truncated == true {
            notices.append(
                "the answer stopped at its max_tokens limit and may be cut off (\(answer.origin)); raise 'max_tokens' on the layer that wrote it for longer answers"
            )
        }
        let timeline = run.contexts.flatMap(\.spans).sorted { ($0.start, $0.layer) < ($1.start, $1.layer) }
        return RunResult(
            answer: failure == nil ? pool.candidates.first?.text : nil, failure: failure,
            failureKind: failure.map { _ in failureKind(usage: total) }, layers: reports, usage: total,
            notices: notices, timeline: timeline)
    }

    /// Why the query failed, for callers that answer each kind differently (a server's status codes).
    func failureKind(usage: RunUsage) -> FailureKind {
        if failure == "cancelled" { return .cancelled }
        if deadlineReached { return .timedOut }
        if usage.rateLimitedCalls > 0 { return .rateLimited }
        return usage.failedCalls > 0 ? .upstream : .deterministic
    }

    /// Anytime: the last complete layer's pool (or the samples that arrived), with a notice.
    mutating func answerOutOfTime() -> Pool {
        let deadline = run.runtime.graph.latencyBudget ?? 0
        let pool = run.anytimePool(reports: reports, outputs: outputs)
        let running = layers[min(reports.count, layers.count - 1)]
        let kept = reports.last.map { "layer \($0.index + 1) (\($0.kind))'s pool" } ?? "the samples that had arrived"
        let notice =
            "the latency budget of \(deadline) s ran out during layer \(running.index + 1) (\(running.kind.rawValue)); "
            + (pool.candidates.isEmpty ? "no candidate existed yet" : "answered from \(kept), and the later layers did not run")
        notices.append(notice)
        run.contexts[min(reports.count, layers.count - 1)].note(notice)  // into the trace
        if pool.candidates.isEmpty { failure = "the latency budget of \(deadline) s ran out before any candidate existed" }
        return pool
    }
}
