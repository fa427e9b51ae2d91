import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSandbox
import StrataSyntax

/// `unit-test`: tests written (or the dataset's), each candidate graded by
/// the sandbox or a judge, the best by tests passed go on.
extension QueryRun {
    /// The test writer's call: assertions to execute, or statements for a judge.
    func writeTests(_ node: GraphNode, layer: LayerSpec, context: LayerContext) async throws -> NodeOutput {
        guard let spec = node.call else { return .skipped }
        let execute = layer.mode == .execute
        var prompt = PromptRenderer.render(spec.prompt, ["query": PromptRenderer.queryText(query.messages), "test_count": String(layer.tests)])
        // Executable tests are code; only natural-language tests come back as JSON.
        if spec.structured { prompt += TestsReply.format.instruction }
        switch await context.call(spec, messages: [.user(prompt)], candidate: nil, schema: spec.structured ? TestsReply.format.schema : nil)
        {
        case .success(let text):
            var tests = TestSet()
            if execute {
                tests.executable = Array(ReplyParsers.assertions(text).prefix(layer.tests))
            } else {
                tests.judged = Array(ReplyParsers.judgeTests(text).prefix(layer.tests))
            }
            if tests.count > 0 { noteTests(tests, context: context) }
            return .tests(.success(tests))
        case .failure(.cancelled):
            throw CancellationError()
        case .failure(let error):
            return .tests(.failure(FailedCall(reason: "writing the tests failed: \(error)")))
        }
    }

    /// `write-tests`: the tests go into every later layer's query; without
    /// tests, the later layers see the query alone (and a grader falls back).
    func showTests(_ layer: LayerSpec, written: NodeOutput, context: LayerContext) {
        switch written {
        case .tests(.success(let tests)) where tests.count > 0:
            guard layer.showsTests else { return }
            show(tests)
            context.note("shown to every later layer")
        case .tests(.failure(let failed)):
            context.note("\(failed.reason); the later layers see the query alone")
        default:
            context.note("no tests could be read from the reply; the later layers see the query alone")
        }
    }

    func noteTests(_ tests: TestSet, context: LayerContext) {
        context.note(
            "\(tests.count) test\(tests.count == 1 ? "" : "s")"
                + (tests.executable.isEmpty ? ": " + tests.judged.joined(separator: " | ") : " to execute"))
    }

    /// The tests a grader uses: the test writer's, or the dataset's.
    func tests(_ layer: LayerSpec, inputs: [NodeOutput]) -> TestSet? {
        if layer.testSource == .dataset { return query.tests.map { TestSet(executable: [$0]) } }
        for case .tests(.success(let tests)) in inputs where tests.count > 0 { return tests }
        return nil
    }

    /// Runs one candidate's code against the tests in the sandbox, or asks the judge which tests it passes.
    func grade(_ node: GraphNode, layer: LayerSpec, candidate: Candidate, tests: TestSet, context: LayerContext) async throws -> NodeOutput {
        let index = node.candidate ?? 0
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
        guard let spec = node.call else { return .passed(0) }
        var prompt = PromptRenderer.render(
            spec.prompt, ["query": PromptRenderer.queryText(query.messages), "candidate": candidate.text, "tests": testsText])
        if spec.structured { prompt += PassedReply.format.instruction }
        switch await context.call(spec, messages: [.user(prompt)], candidate: index, schema: spec.structured ? PassedReply.format.schema : nil)
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
    func selectByTests(_ layer: LayerSpec, pool: Pool, inputs: [NodeOutput], streamed: Bool, context: LayerContext) throws -> [Candidate] {
        if layer.testSource == .dataset {
            guard let tests = query.tests else { throw QueryFailure(reason: "the query carries no tests (test_source: dataset)") }
            noteTests(TestSet(executable: [tests]), context: context)
        } else {
            for case .tests(.failure(let failed)) in inputs where layer.onFailure != .fail {
                return try LayerFallback.apply(layer, pool: pool.candidates, reason: failed.reason, context: context)
            }
            for case .tests(.failure(let failed)) in inputs {
                return try Self.untested(layer, pool: pool.candidates, reason: failed.reason, context: context)
            }
            guard tests(layer, inputs: inputs) != nil else {
                return try Self.untested(layer, pool: pool.candidates, reason: "no tests could be read from the test writer's reply", context: context)
            }
        }
        let testCount = tests(layer, inputs: inputs)?.count ?? 0
        let graded = inputs.filter {
            switch $0 {
            case .passed, .skipped: true
            default: false
            }
        }
        let scored = pool.candidates.enumerated().map { index, candidate -> Candidate in
            var candidate = candidate
            if case .passed(let count)? = perCandidate(graded, pool: pool, index: index, streamed: streamed) {
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

/// The test writer's structured reply (judge mode only: executable tests are code).
enum TestsReply {
    static let format = ReplyFormat.object(
        "tests", property: "tests", #"{"type":"array","items":{"type":"string"}}"#,
        instruction: "\nAnswer in JSON: {\"tests\": [\"…\", …]}.")
}

/// The judge's structured reply: one boolean per test, in order.
enum PassedReply {
    static let format = ReplyFormat.object(
        "passed", property: "passed", #"{"type":"array","items":{"type":"boolean"}}"#,
        instruction: "\nAnswer in JSON: {\"passed\": [true or false for each test, in order]}.")
}
