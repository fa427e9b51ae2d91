import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSandbox
import StrataSyntax

/// `unit-test`: tests written (or the dataset's), each candidate graded by
/// the sandbox or a judge, the best by tests passed go on.
struct UnitTestExecutor: NodeExecutor {
    var operations: [NodeOperation] { [.executeTests, .judgeTests, .selectByTests] }

    func run(_ context: NodeContext) async throws -> NodeOutput {
        if context.node.operation == .selectByTests { return .pool(Pool(candidates: try selectByTests(context, pool: try context.nonEmptyPool()))) }
        guard let candidate = context.candidate, let tests = tests(context) else { return .skipped }
        return try await grade(context, candidate: candidate, tests: tests)
    }

    /// The tests a grader uses: the test writer's, or the dataset's.
    func tests(_ node: NodeContext) -> TestSet? {
        if node.layer.testSource == .dataset { return node.query.tests.map { TestSet(executable: [$0]) } }
        for case .tests(.success(let tests)) in node.inputs where tests.count > 0 { return tests }
        return nil
    }

    /// Runs one candidate's code against the tests in the sandbox, or asks the judge which tests it passes.
    func grade(_ node: NodeContext, candidate: Candidate, tests: TestSet) async throws -> NodeOutput {
        let layer = node.layer, context = node.calls
        let index = node.node.candidate ?? 0
        if layer.mode == .execute {
            // Model-written asserts run one by one; a dataset's test program runs whole (all or nothing).
            let limits = SandboxLimits(memoryMB: layer.memoryMB, wallSeconds: layer.timeoutSeconds)
            let check = await Sandbox.check(solution: ReplyParsers.code(candidate.text), tests: tests.executable, limits: limits)
            if Task.isCancelled { throw CancellationError() }
            let count = check.passed.filter { $0 }.count
            context.note("[\(index + 1)] passed \(count)/\(tests.count) executed tests" + (check.result.timedOut ? " (timed out)" : ""))
            return .passed(count)
        }
        let testsText = tests.judged.enumerated().map { "[\($0.offset + 1)] \($0.element)" }.joined(separator: "\n")
        guard let spec = node.node.call else { return .passed(0) }
        let messages = PromptRenderer.candidatePrompt(
            spec.prompt, query: PromptRenderer.queryText(node.query.messages), candidate: candidate.text, extra: ["tests": testsText],
            suffix: spec.structured ? PassedReply.format.instruction : "")
        switch await context.call(spec, messages: messages, candidate: index, schema: spec.structured ? PassedReply.format.schema : nil)
        {
        case .success(let text): return .passed(ReplyParsers.passedCount(text, tests: tests.count))
        case .failure(.cancelled): throw CancellationError()
        case .failure: return .passed(0)
        }
    }

    /// Without tests a grader cannot reorder anything: the first `top_k` candidates go on in pool order, with a note,
    /// so the pipeline answers no worse than its first samples (a writer's failure or an unreadable reply never
    /// fails the query; `on_failure: pass-through` or `best-candidate` choose otherwise).
    static func untested(_ layer: LayerSpec, pool: [Candidate], reason: String, context: LayerContext) throws -> [Candidate] {
        guard !pool.isEmpty else { throw QueryFailure(reason: reason) }
        let kept = Array(pool.prefix(layer.firstK ?? layer.topK ?? pool.count))
        context.fallback("\(reason); keeping the first \(kept.count) of \(pool.count) candidates in pool order, ungraded")
        return kept
    }

    /// With `first_k`, the first k candidates (in pool order) that pass every test, when k do; otherwise drops
    /// candidates that pass no test, sorts by tests passed (stable) and keeps the top k.
    func selectByTests(_ node: NodeContext, pool: Pool) throws -> [Candidate] {
        let layer = node.layer, context = node.calls, inputs = node.inputs
        if layer.testSource == .dataset {
            guard let tests = node.query.tests else { throw QueryFailure(reason: "the query carries no tests (test_source: dataset)") }
            WriteTestsExecutor.note(TestSet(executable: [tests]), context: context)
        } else {
            for case .tests(.failure(let failed)) in inputs where layer.onFailure != .fail {
                return try LayerFallback.apply(layer, pool: pool.candidates, reason: failed.reason, context: context)
            }
            for case .tests(.failure(let failed)) in inputs {
                return try Self.untested(layer, pool: pool.candidates, reason: failed.reason, context: context)
            }
            guard tests(node) != nil else {
                return try Self.untested(layer, pool: pool.candidates, reason: "no tests could be read from the test writer's reply", context: context)
            }
        }
        let testCount = tests(node)?.count ?? 0
        let graded = inputs.filter {
            switch $0 {
            case .passed, .skipped: true
            default: false
            }
        }
        let scored = pool.candidates.enumerated().map { index, candidate -> Candidate in
            var candidate = candidate
            if case .passed(let count)? = node.perCandidate(graded, pool: pool, index: index) {
                candidate.testsPassed = count
            } else {
                candidate.testsPassed = 0
            }
            return candidate
        }
        if let k = layer.firstK, testCount > 0 {
            let passingAll = scored.filter { ($0.testsPassed ?? 0) >= testCount }
            if passingAll.count >= k {
                context.note("first_k: the first \(k) of \(passingAll.count) candidates passing all \(testCount) tests, in pool order")
                return Array(passingAll.prefix(k))
            }
            context.note("first_k: \(passingAll.count) candidate(s) pass all \(testCount) tests, fewer than \(k); keeping the best by tests passed")
        }
        var survivors = scored.filter { ($0.testsPassed ?? 0) > 0 }
        if survivors.isEmpty {
            switch layer.onEmpty {
            case .keepAll?:
                context.note("no candidate passed a test; keeping all (on_empty: keep-all)")
                survivors = scored
            case .fail?: throw QueryFailure(reason: "no candidate passed a test (on_empty: fail)")
            case nil: context.note("no candidate passed a test")
            }
        }
        // A stable sort: ties keep pool order.
        let sorted = survivors.enumerated().sorted { ($0.element.testsPassed ?? 0, -$0.offset) > ($1.element.testsPassed ?? 0, -$1.offset) }.map(\.element)
        return Array(sorted.prefix(layer.topK ?? sorted.count))
    }
}

/// The judge's structured reply: one boolean per test, in order.
enum PassedReply {
    static let format = ReplyFormat.object(
        "passed", property: "passed", #"{"type":"array","items":{"type":"boolean"}}"#,
        instruction: "\nAnswer in JSON: {\"passed\": [true or false for each test, in order]}.")
}
