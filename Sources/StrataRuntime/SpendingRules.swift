import StrataChecker
import StrataCompiler

/// What a spending rule asks of the driver after a node finishes.
struct RuleDecision {
    /// A note for a layer's report and the trace.
    var note: (layer: Int, text: String)?
    /// Calls no longer wanted: never sent, or cancelled if in flight.
    var unneeded: [Int] = []
    /// Held calls that may now be sent.
    var release: [Int] = []
}

/// A vote's `early_stop` as the driver applies it: the ensemble's samples are
/// released a wave at a time, in sample order, until the vote is settled.
struct WaveRelease {
    let gate: EarlyStopGate
    /// Samples released so far (a prefix of `gate.calls`).
    private(set) var released: Int
    private let slotOf: [Int: Int]

    init?(_ gate: EarlyStopGate?) {
        guard let gate else { return nil }
        self.gate = gate
        released = min(gate.wave, gate.calls.count)
        slotOf = Dictionary(uniqueKeysWithValues: gate.calls.enumerated().map { ($1, $0) })
    }

    /// Whether `id` is a sample that must wait for its wave.
    func holds(_ id: Int) -> Bool { slotOf[id].map { $0 >= released } ?? false }

    /// After a node finishes: once the released wave is complete, stop drawing or release the next.
    mutating func after(_ id: Int, outputs: [NodeOutput?]) -> RuleDecision? {
        guard slotOf[id] != nil, released < gate.calls.count,
            (gate.calls.firstIndex { outputs[$0] == nil } ?? gate.calls.count) >= released
        else { return nil }
        let texts = gate.calls[..<released].map { call -> String? in
            if case .generated(.success(let candidate))? = outputs[call] { return candidate.text }
            return nil
        }
        if let reason = gate.settled(texts, remaining: gate.calls.count - released) {
            let decision = RuleDecision(
                note: (gate.voteLayer, "early stop after \(released) of \(gate.calls.count) samples: \(reason)"),
                unneeded: Array(gate.calls[released...]))
            released = gate.calls.count
            return decision
        }
        let next = min(gate.calls.count, released + gate.wave)
        defer { released = next }
        return RuleDecision(release: Array(gate.calls[released..<next]))
    }
}

/// An ensemble's `quorum` as the driver applies it: once that many samples
/// have arrived, the rest are cancelled, sent or not.
struct QuorumWatch {
    let quorum: Int
    /// The ensemble's position, where the quorum's note goes.
    let layer: Int
    let calls: [Int]
    private var arrived = 0
    private var met = false

    init?(graph: ExecutionGraph, plan: GraphPlan) {
        guard graph.layers.indices.contains(graph.ensemblePosition), let quorum = graph.layers[graph.ensemblePosition].quorum else {
            return nil
        }
        self.quorum = quorum
        layer = graph.ensemblePosition
        calls = plan.ensembleCalls
    }

    mutating func after(_ id: Int, outputs: [NodeOutput?]) -> RuleDecision? {
        guard !met, case .generated(.success)? = outputs[id], calls.contains(id) else { return nil }
        arrived += 1
        guard arrived >= quorum else { return nil }
        met = true
        let rest = calls.filter { outputs[$0] == nil }
        guard !rest.isEmpty else { return nil }
        return RuleDecision(
            note: (layer, "quorum: went on with the first \(quorum) of \(calls.count) samples to arrive; cancelled the other \(rest.count)"),
            unneeded: rest)
    }
}
