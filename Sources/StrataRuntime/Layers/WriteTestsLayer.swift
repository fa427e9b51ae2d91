import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSandbox
import StrataSyntax

/// `write-tests`: a call writes tests on the query alone (for this layer, or
/// for a `unit-test` layer that writes its own), and the step that shows
/// them to every later layer.
struct WriteTestsExecutor: NodeExecutor {
    var operations: [NodeOperation] { [.writeTests, .showTests] }

    func run(_ context: NodeContext) async throws -> NodeOutput {
        if context.node.operation == .writeTests { return try await writeTests(context) }
        showTests(context, written: context.inputs.first ?? .skipped)
        return .pool(.empty)
    }

    /// The test writer's call: assertions to execute, or statements for a judge.
    func writeTests(_ node: NodeContext) async throws -> NodeOutput {
        let layer = node.layer, context = node.calls
        guard let spec = node.node.call else { return .skipped }
        let execute = layer.mode == .execute
        var prompt = PromptRenderer.render(spec.prompt, ["query": PromptRenderer.queryText(node.query.messages), "test_count": String(layer.tests)])
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
            if tests.count > 0 { Self.note(tests, context: context) }
            return .tests(.success(tests))
        case .failure(.cancelled):
            throw CancellationError()
        case .failure(let error):
            return .tests(.failure(FailedCall(reason: "writing the tests failed: \(error)")))
        }
    }

    /// `write-tests`: the tests go into every later layer's query; without
    /// tests, the later layers see the query alone (and a grader falls back).
    func showTests(_ node: NodeContext, written: NodeOutput) {
        let layer = node.layer, context = node.calls
        switch written {
        case .tests(.success(let tests)) where tests.count > 0:
            guard layer.showsTests else { return }
            node.show(tests)
            context.note("shown to every later layer")
        case .tests(.failure(let failed)):
            context.note("\(failed.reason); the later layers see the query alone")
        default:
            context.note("no tests could be read from the reply; the later layers see the query alone")
        }
    }

    static func note(_ tests: TestSet, context: LayerContext) {
        context.note(
            "\(tests.count) test\(tests.count == 1 ? "" : "s")"
                + (tests.executable.isEmpty ? ": " + tests.judged.joined(separator: " | ") : " to execute"))
    }
}

/// The test writer's structured reply (judge mode only: executable tests are code).
enum TestsReply {
    static let format = ReplyFormat.object(
        "tests", property: "tests", #"{"type":"array","items":{"type":"string"}}"#,
        instruction: "\nAnswer in JSON: {\"tests\": [\"…\", …]}.")
}
