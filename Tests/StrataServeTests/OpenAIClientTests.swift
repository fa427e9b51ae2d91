import Foundation
import Strata
import StrataServe
import StrataTestServer
import StrataTestSupport
import Testing

/// The project virtualenv's Python, when it has the official client.
let officialClientPython: String? = {
    let path = packageRoot.appendingPathComponent(".local-llm/venv/bin/python").path
    guard FileManager.default.isExecutableFile(atPath: path) else { return nil }
    let probe = try? StrataBinary.runBlocking(["-c", "import openai"], executable: URL(fileURLWithPath: path))
    return probe?.status == 0 ? path : nil
}()

/// The official `openai` Python package (installed by `scripts/test` into the
/// project's virtualenv) against the server, with strict response validation:
/// what real applications see.
@Suite(.enabled(if: officialClientPython != nil, "needs the openai package in .local-llm/venv (scripts/test installs it)"))
struct OpenAIClientTests {
    static var python: String? { officialClientPython }

    static let key = "sk-strata-serve-test"

    /// Runs one scenario of `Clients/openai_client.py`; its JSON output.
    func client(_ scenario: String, _ harness: ServeHarness, model: String = "alpha") async throws -> [String: Any] {
        let script = packageRoot.appendingPathComponent("Tests/StrataServeTests/Clients/openai_client.py").path
        let python = try #require(Self.python)
        let outcome = try await StrataBinary.run(
            [script, scenario, harness.baseURL, Self.key, model], executable: URL(fileURLWithPath: python))
        guard outcome.status == 0, let json = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any] else {
            throw TestFailure("\(scenario): exit \(outcome.status)\n\(outcome.stdout)\n\(outcome.stderr)")
        }
        return json
    }

    func harness(
        _ pipelines: [(name: String, layers: String)] = [("alpha", sampleAndFuse)], upstream: ScriptedLLMServer? = nil
    ) async throws
        -> ServeHarness
    {
        try await ServeHarness(pipelines, upstream: try upstream ?? ScriptedLLMServer()) { $0.apiKeys = [Self.key] }
    }

    @Test func wholeAndStreamedAnswersAgreeAndValidate() async throws {
        let harness = try await harness()
        defer { Task { await harness.stop() } }
        let whole = try await client("whole", harness)
        #expect(whole["model"] as? String == "alpha")
        #expect(whole["role"] as? String == "assistant")
        #expect((whole["request_id"] as? String)?.hasPrefix("req_") == true)
        #expect(whole["calls_header"] as? String == "5")
        let usage = try #require(whole["usage"] as? [String: Any])
        #expect(usage["total_tokens"] as? Int == (usage["prompt_tokens"] as! Int) + (usage["completion_tokens"] as! Int))
        #expect((usage["strata"] as? [String: Any])?["calls"] as? Int == 5, "extra usage fields survive strict validation")

        let streamed = try await client("stream", harness)
        #expect(streamed["content"] as? String == whole["content"] as? String)
        #expect(streamed["first_role"] as? String == "assistant")
        #expect(streamed["finish_reasons"] as? [String] == ["stop"])
        #expect(streamed["last_has_no_choices"] as? Bool == true)
        #expect((streamed["last_usage"] as? [String: Any])?["total_tokens"] as? Int == usage["total_tokens"] as? Int)
        #expect((streamed["other_usages"] as? [Any])?.allSatisfy { $0 is NSNull } == true)

        let plain = try await client("stream_no_usage", harness)
        #expect(plain["content"] as? String == whole["content"] as? String)
        #expect(plain["last_usage"] is NSNull)
    }

    @Test func modelsKeysAndRefusedParameters() async throws {
        let harness = try await harness([("alpha", single), ("beta", single)])
        defer { Task { await harness.stop() } }
        let models = try await client("models", harness)
        #expect(models["listed"] as? [String] == ["alpha", "beta"])
        #expect(models["owned_by"] as? String == "strata")
        let missing = try #require(models["missing"] as? [String: Any])
        #expect(missing["class"] as? String == "NotFoundError")
        #expect(missing["code"] as? String == "model_not_found")

        let denied = try await client("wrong_key", harness)
        #expect(denied["class"] as? String == "AuthenticationError")
        #expect(denied["code"] as? String == "invalid_api_key")
        #expect((denied["message"] as? String)?.contains("sk-wrong") == false)

        let tools = try await client("tools", harness)
        #expect(tools["class"] as? String == "BadRequestError")
        #expect(tools["param"] as? String == "tools")
        #expect(harness.upstream.requestCount == 0)
    }

    @Test func upstreamRateLimitsAreRetriedByTheClientAndDeterministicFailuresAreNot() async throws {
        let upstream = try ScriptedLLMServer { _, _ in .status(429, message: "slow down", headers: ["Retry-After": "0"]) }
        let harness = try await harness(
            [("alpha", single), ("checked", verified)],
            upstream: upstream)
        defer { Task { await harness.stop() } }
        let limited = try await client("retried", harness)
        #expect(limited["class"] as? String == "RateLimitError")
        #expect(limited["code"] as? String == "upstream_rate_limited")
        #expect(await eventually(within: 5) { harness.logLines.compactMap { $0["client_retry"] as? Int } == [0, 1, 2] })

        upstream.setResponder { _, _ in .status(500, message: "boom") }
        let broken = try await client("retried", harness)
        #expect(broken["class"] as? String == "InternalServerError")
        #expect(broken["status"] as? Int == 502)
        #expect(await eventually(within: 5) { harness.logLines.count == 6 }, "the client tried the 502 three times")

        upstream.setResponder(rejectingVerifier)
        let rejected = try await client("retried", harness, model: "checked")
        #expect(rejected["class"] as? String == "InternalServerError")
        #expect(rejected["code"] as? String == "pipeline_failed")
        #expect(await eventually(within: 5) { harness.logLines.count == 7 }, "x-should-retry: false stops the client's retries")
    }

    @Test func aFailureMidStreamRaisesInTheClient() async throws {
        let upstream = try ScriptedLLMServer { request, _ in
            request.promptText.contains("Synthesize") ? .status(400, message: "no") : .text("sample")
        }
        let harness = try await harness(
            [("alpha", "  - ensemble: [{ model: m, samples: 2 }]\n  - fuse: { models: [m], on_failure: fail }")], upstream: upstream)
        defer { Task { await harness.stop() } }
        let failed = try await client("streamed_failure", harness)
        #expect(failed["class"] as? String == "APIError")
        #expect((failed["message"] as? String)?.contains("produced no answer") == true)
    }

    @Test func theServingArticlesPythonExampleStreamsAnAnswerWithThePipelinesUsage() async throws {
        let harness = try await ServeHarness([("quickstart", sampleAndFuse)], upstream: try ScriptedLLMServer())
        defer { Task { await harness.stop() } }
        let article = try String(contentsOf: packageRoot.appendingPathComponent("Sources/Strata/Strata.docc/Serving.md"), encoding: .utf8)
        let section = try #require(article.range(of: "# Serving pipelines").map { article[$0.upperBound...] })
        let start = try #require(section.range(of: "```python\n"))
        let end = try #require(section[start.upperBound...].range(of: "```"))
        let example = String(section[start.upperBound..<end.lowerBound])
        #expect(example.contains("http://127.0.0.1:8000/v1"), "the example points at the default port")
        let script = temporaryPath("readme_example.py")
        try example.replacingOccurrences(of: "http://127.0.0.1:8000/v1", with: harness.baseURL).write(toFile: script, atomically: true, encoding: .utf8)
        let outcome = try await StrataBinary.run([script], executable: URL(fileURLWithPath: try #require(Self.python)))
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("Why is the sky blue?"), "the fused answer echoes the question: \(outcome.stdout)")
        #expect(outcome.stdout.contains("'calls': 5"), "the usage is the whole pipeline's: \(outcome.stdout)")
        #expect(outcome.stdout.split(separator: "\n").first?.hasSuffix("None") == false, "a finish chunk's empty delta prints nothing")
    }
}
