import StrataChecker
import StrataCompiler

/// What a spending rule asks of the driver after a node finishes.
struct RuleDecision {
    /// A note for a layer's report and the trace.
    var note: (layer: Int, text: String)?
    /// A note for the trace alone: what depends on the order replies arrived in,
    /// which the report leaves out so the same replies give the same report.
    var traceNote: (layer: Int, text: String)?
    /// Calls no longer wanted: never sent, or cancelled if in flight.
    var unneeded: [Int] = []
    /// Held calls that may now be sent.
    var release: [Int] = []
}

/// A vote's `early_stop` as the driver applies it: the ensemble's samples are
/// released in sample order, up to `wave` past the longest completed prefix —
/// a sample that completes the prefix makes room for the next at once, so the
/// model's slots stay busy instead of waiting for a whole wave — and every
/// prefix that completes is judged in order until the vote is settled.
struct WaveRelease {
    let gate: EarlyStopGate
    /// Samples released so far (a prefix of `gate.calls`).
    private(set) var released: Int
    /// The longest prefix judged so far.
    private var judged = 0
    private var stopped = false
    private let slotOf: [Int: Int]

    init?(_ gate: EarlyStopGate?) {
        guard let gate else { return nil }
        self.gate = gate
        released = min(gate.wave, gate.calls.count)
        slotOf = Dictionary(uniqueKeysWithValues: gate.calls.enumerated().map { ($1, $0) })
    }

    /// Whether `id` is a sample that must wait to be released.
    func holds(_ id: Int) -> Bool { slotOf[id].map { $0 >= released } ?? false }

    /// After a node finishes: judge the prefixes it completed; stop drawing, or release more samples.
    mutating func after(_ id: Int, outputs: [NodeOutput?]) -> RuleDecision? {
        guard !stopped, slotOf[id] != nil else { return nil }
        let total = gate.calls.count
        let prefix = gate.calls.firstIndex { outputs[$0] == nil } ?? total
        while judged < prefix, judged < total - 1 {
            judged += 1
            let drawn = gate.calls[..<judged].map { call -> Candidate? in
                if case .generated(.success(let candidate))? = outputs[call] { return candidate }
                return nil
            }
            guard let reason = gate.settled(drawn, remaining: total - judged) else { continue }
            stopped = true
            let rest = gate.calls[judged...]
            let arrived = rest.filter { outputs[$0] != nil }.count
            let inFlight = rest.prefix(released - judged).filter { outputs[$0] == nil }.count
            let tokensAfter = rest.compactMap { call -> Int? in
                if case .generated(.success(let candidate))? = outputs[call] { return candidate.confidence?.tokens ?? 0 }
                return nil
            }.reduce(0, +)
            released = total
            return RuleDecision(
                note: (gate.voteLayer, "early stop after \(judged) of \(total) samples: \(reason)"),
                traceNote: (
                    gate.voteLayer,
                    "early stop: \(inFlight) sample(s) in flight cancelled; \(arrived) arrived after the stop and were not counted"
                        + (tokensAfter > 0 ? " (\(tokensAfter) tokens)" : "")
                ),
                unneeded: Array(rest))
        }
        // At most `wave` samples past the completed prefix: a slow sample at its
        // head holds the rest back, so a stop never finds more than wave - 1
        // samples sent past the point it judged.
        let next = min(total, max(released, prefix + gate.wave))
        guard next > released else { return nil }
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
