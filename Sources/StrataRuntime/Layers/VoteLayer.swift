import StrataChecker
import StrataCompiler
import StrataSyntax

/// `vote`: no model calls; the candidates with the most frequent answer go on.
struct VoteExecutor: NodeExecutor {
    var operations: [NodeOperation] { [.vote] }

    func run(_ context: NodeContext) async throws -> NodeOutput {
        .pool(Pool(candidates: Self.select(context.layer, pool: try context.nonEmptyPool().candidates, context: context.calls)))
    }

    /// Self-consistency: extracts every candidate's answer, keeps the
    /// candidates whose answer has the most votes (ties broken by pool order),
    /// and records the tally. Votes are counts, or confidence weights; with
    /// `keep`, only the most confident share votes. No model calls.
    static func select(_ layer: LayerSpec, pool: [Candidate], context: LayerContext) -> [Candidate] {
        let counting = VoteCounting(extractor: layer.extractor ?? .numeric, weight: layer.weight ?? .count, keep: layer.keep)
        let count = counting.count(pool)
        let kind = counting.extractor.rawValue
        guard let winner = count.standings.first else {
            context.note("vote (\(kind)): no candidate has a readable answer; keeping all \(pool.count)")
            return pool
        }
        var note = "vote (\(kind)\(counting.weight == .confidence ? ", weighted by confidence" : "")): \(counting.describe(count.standings))"
        if count.unreadable > 0 { note += "; \(count.unreadable) unreadable" }
        if count.dropped > 0 { note += "; \(count.dropped) of \(pool.count) left out as the least confident (keep)" }
        context.note(note + " → \(winner.answer)")
        return zip(pool, count.answers).filter { $0.1 == winner.answer }.map(\.0)
    }
}
