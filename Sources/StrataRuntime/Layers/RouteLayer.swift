import Foundation
import StrataCompiler
import StrataSyntax

/// `route`: runs the branch its rule chooses — by the query (`match`), or
/// the branches in order until one's answer is sure enough (`cascade`) — and
/// yields that branch's final pool. Each branch runs as a query of its own
/// runtime, sharing this one's models, scheduler, cache and trace; its calls
/// count in the route layer's usage, and its layers' notes in the route's.
struct RouteExecutor: NodeExecutor {
    var operations: [NodeOperation] { [.route] }

    func run(_ context: NodeContext) async throws -> NodeOutput {
        guard let rule = context.layer.route, !context.branches.isEmpty else { throw QueryFailure(reason: "the route has no branches") }
        let text = context.query.messages.last { $0.role == .user }?.content ?? ""
        switch rule {
        case .match(let arms, let otherwise):
            let arm = arms.first { $0.condition.holds(for: text) }
            let name = arm?.branch ?? otherwise
            context.calls.note("route: " + (arm.map { "the query is \($0.condition)" } ?? "no arm matched") + " → branch \(name)")
            return try await Self.answer(from: name, context)
        case .classify(let prompt, let table, let otherwise):
            guard let classifier = context.classifier else { throw QueryFailure(reason: "the route has no classifier call") }
            let reply = await context.calls.call(classifier, messages: [.system(prompt), .user(text)], candidate: nil)
            let rating = (try? reply.get()).flatMap { $0.first(where: \.isNumber) }.flatMap { Int(String($0)) }
            if Task.isCancelled { throw CancellationError() }
            let name = rating.flatMap { table[$0] } ?? otherwise
            switch (reply, rating) {
            case (.failure(let error), _): context.calls.note("route: the rating call failed (\(error)) → the default, branch \(name)")
            case (_, let rating?) where table[rating] != nil: context.calls.note("route: rated \(rating) → branch \(name)")
            case (.success(let text), _):
                context.calls.note("route: no rating in the table in '\(text.prefix(40))' → the default, branch \(name)")
            }
            return try await Self.answer(from: name, context)
        case .cascade(let measure, let threshold):
            var last: String?
            for (offset, branch) in context.branches.enumerated() {
                let result = await Self.run(branch, context)
                if Task.isCancelled { throw CancellationError() }
                let isLast = offset == context.branches.count - 1
                guard result.failure == nil, let pool = result.layers.last?.candidates, !pool.isEmpty else {
                    last = "branch \(branch.name): \(result.failure ?? "no answer")"
                    if !isLast { context.calls.note("route: \(last!); escalating to \(context.branches[offset + 1].name)") }
                    continue
                }
                if isLast {
                    context.calls.note("route: answered from \(branch.name), the last branch")
                    return .pool(Pool(candidates: pool))
                }
                let value = Self.measure(measure, of: result, in: branch.runtime.graph)
                let shown = String(format: "%.2f", value)
                if value >= threshold {
                    context.calls.note("route: branch \(branch.name)'s \(measure.rawValue) is \(shown) ≥ \(threshold) → answered from \(branch.name)")
                    return .pool(Pool(candidates: pool))
                }
                context.calls.note(
                    "route: branch \(branch.name)'s \(measure.rawValue) is \(shown) < \(threshold) → escalating to \(context.branches[offset + 1].name)")
            }
            throw QueryFailure(reason: last ?? "every branch failed")
        }
    }

    /// The named branch's final pool, or why there is none.
    static func answer(from name: String, _ context: NodeContext) async throws -> NodeOutput {
        guard let branch = context.branches.first(where: { $0.name == name }) else { throw QueryFailure(reason: "no branch '\(name)'") }
        let result = await run(branch, context)
        guard result.failure == nil, let pool = result.layers.last?.candidates, !pool.isEmpty else {
            throw QueryFailure(reason: "branch \(name): \(result.failure ?? "no answer")")
        }
        return .pool(Pool(candidates: pool))
    }

    /// One branch, as a query of its own under this query's id; its usage and notes join the route layer's.
    static func run(_ branch: (name: String, runtime: PipelineRuntime), _ context: NodeContext) async -> RunResult {
        let result = await branch.runtime.run(context.query, id: "\(context.calls.query)/\(branch.name)")
        context.calls.count { $0 = $0 + result.usage }
        for layer in result.layers {
            for note in layer.notes { context.calls.note("\(branch.name) · layer \(layer.index + 1) (\(layer.kind)): \(note)") }
        }
        return result
    }

    /// How sure a branch's answer is: the share of its first layer's samples
    /// that give the answer's answer (read by the branch's vote extractor, or
    /// as a number), or the answer's own path probability (0 when its reply carried none).
    static func measure(_ measure: CascadeMeasure, of result: RunResult, in graph: ExecutionGraph) -> Double {
        guard let answer = result.layers.last?.candidates.first else { return 0 }
        switch measure {
        case .confidence:
            return answer.confidence?.pathProbability ?? 0
        case .agreement:
            let extractor = graph.layers.first { $0.kind == .vote }?.extractor ?? .numeric
            let samples = result.layers.first?.candidates ?? []
            guard !samples.isEmpty, let chosen = AnswerExtractor.extract(extractor, from: answer.text) else { return 0 }
            let agreeing = samples.filter { AnswerExtractor.extract(extractor, from: $0.text) == chosen }.count
            return Double(agreeing) / Double(samples.count)
        }
    }
}
