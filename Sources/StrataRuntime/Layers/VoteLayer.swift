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
    /// candidates whose answer is most frequent (ties broken by pool order),
    /// and records the counts. No model calls.
    static func select(_ layer: LayerSpec, pool: [Candidate], context: LayerContext) -> [Candidate] {
        let kind = layer.extractor ?? .numeric
        let answers = pool.map { AnswerExtractor.extract(kind, from: $0.text) }
        var counts: [String: Int] = [:]
        var firstSeen: [String: Int] = [:]
        for (index, answer) in answers.enumerated() {
            guard let answer else { continue }
            counts[answer, default: 0] += 1
            if firstSeen[answer] == nil { firstSeen[answer] = index }
        }
        guard let winner = counts.keys.max(by: { (counts[$0]!, -firstSeen[$0]!) < (counts[$1]!, -firstSeen[$1]!) }) else {
            context.note("vote (\(kind.rawValue)): no candidate has a readable answer; keeping all \(pool.count)")
            return pool
        }
        let tally = counts.sorted { (counts[$0.key]!, -firstSeen[$0.key]!) > (counts[$1.key]!, -firstSeen[$1.key]!) }
            .map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        let unreadable = answers.filter { $0 == nil }.count
        context.note("vote (\(kind.rawValue)): \(tally)" + (unreadable > 0 ? "; \(unreadable) unreadable" : "") + " → \(winner)")
        return zip(pool, answers).filter { $0.1 == winner }.map(\.0)
    }
}
