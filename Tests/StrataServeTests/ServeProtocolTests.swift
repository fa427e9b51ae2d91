import AsyncHTTPClient
import Foundation
import Strata
import StrataServe
import StrataTestServer
import StrataTestSupport
import Testing

/// The OpenAI contract over real sockets: bodies, streams, errors and
/// headers as the official clients read them.
@Suite struct ServeProtocolTests {
    @Test func aWholeAnswerCarriesTheFullUsageAndCostHeaders() async throws {
        let harness = try await ServeHarness([("alpha", sampleAndFuse)], upstream: try ScriptedLLMServer())
        defer { Task { await harness.stop() } }
        let reply = try await harness.chat(extra: #""temperature": 0.2, "x_custom": 1"#)
        #expect(reply.status == 200, "\(reply.body)")
        let body = reply.json
        #expect(body["object"] as? String == "chat.completion")
        #expect(body["model"] as? String == "alpha")
        #expect((body["system_fingerprint"] as? String)?.hasPrefix("strata-") == true)
        let choice = try #require((body["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "stop")
        let message = try #require(choice["message"] as? [String: Any])
        #expect(message["role"] as? String == "assistant")
        #expect((message["content"] as? String)?.isEmpty == false)
        // Usage is the sum over all five calls (four samples and the fuse), not the last call's.
        let usage = try #require(body["usage"] as? [String: Any])
        let calls = harness.traceCalls
        #expect(calls.count == 5)
        #expect(calls.allSatisfy { $0["query"] as? String == reply.headers["x-request-id"] }, "the trace names each call's request")
        #expect(usage["prompt_tokens"] as? Int == calls.reduce(0) { $0 + ($1["input_tokens"] as? Int ?? 0) })
        #expect(usage["completion_tokens"] as? Int == calls.reduce(0) { $0 + ($1["output_tokens"] as? Int ?? 0) })
        #expect(usage["total_tokens"] as? Int == (usage["prompt_tokens"] as! Int) + (usage["completion_tokens"] as! Int))
        #expect((usage["strata"] as? [String: Any])?["calls"] as? Int == 5)
        #expect(reply.headers["x-strata-calls"] == "5")
        #expect(reply.headers["x-request-id"]?.hasPrefix("req_") == true)
        #expect(reply.headers["x-strata-ignored-params"] == "temperature,x_custom")
        // The log's line follows the reply's last byte, so on a loaded machine it can land a moment after the client has it.
        #expect(await eventually(within: 5) { harness.logLines.last?["status"] as? Int == 200 })
        #expect(harness.logLines.last?["messages"] == nil, "prompts stay out of the log unless asked")
    }

    @Test func thousandsOfUnknownFieldsMakeAnIgnoredParamsHeaderOfAboutAKilobyte() throws {
        let fields = (0..<3000).map { "\"field_\($0)\": 1" }.joined(separator: ", ")
        let body = Data(#"{"model": "alpha", "messages": [{"role": "user", "content": "x"}], \#(fields)}"#.utf8)
        let outcome = ServeRequestProbe.decode(body, served: ["alpha"], maxN: 1)
        #expect(outcome.status == 200)
        let header = try #require(outcome.ignoredHeader)
        #expect(header.utf8.count <= 1030, "\(header.utf8.count) bytes")
        #expect(header.hasPrefix("field_0,field_1,") && header.hasSuffix(",..."), "\(header.prefix(40))")
        #expect(outcome.queries.count == 1)
        let log = try #require(outcome.logLine.flatMap { try JSONSerialization.jsonObject(with: $0) as? [String: Any] })
        #expect((log["ignored_params"] as? [String])?.count == 3000, "the log keeps every name")
    }

    @Test func theSameSeedIsACacheHitAndAnotherSeedIsANewRun() async throws {
        let harness = try await ServeHarness([("alpha", sampleAndFuse)], upstream: try ScriptedLLMServer(), cache: true)
        defer { Task { await harness.stop() } }
        let first = try await harness.chat(extra: #""seed": 7"#)
        #expect(first.status == 200)
        let requestsAfterFirst = harness.upstream.requestCount
        let again = try await harness.chat(extra: #""seed": 7"#)
        #expect(Self.content(again) == Self.content(first))
        #expect(harness.upstream.requestCount == requestsAfterFirst, "a repeated seed is answered from the cache")
        #expect(again.headers["x-strata-cache-hits"] == "5")
        #expect(again.headers["x-strata-usd"] == "0")
        let usage = try #require(again.json["usage"] as? [String: Any])
        #expect((usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int == usage["prompt_tokens"] as? Int)
        #expect(usage["prompt_tokens"] as? Int == (first.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int)
        _ = try await harness.chat(extra: #""seed": 8"#)
        #expect(harness.upstream.requestCount == requestsAfterFirst + 5, "another seed asks every call anew")
        let seeds = Set(harness.upstream.requests.compactMap(\.seed))
        // Four seeds a run (the fuse's is the first sample's), none shared between seeds 7 and 8.
        #expect(seeds.count == 8, "seeds 7 and 8 send different seeds upstream: \(seeds.sorted())")
    }

    static func content(_ reply: ServeHarness.Reply) -> String? {
        ((reply.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }

    @Test func nChoicesAreSeparateRunsWithSummedUsage() async throws {
        let harness = try await ServeHarness([("alpha", single)], upstream: try ScriptedLLMServer()) { $0.maxN = 2 }
        defer { Task { await harness.stop() } }
        let reply = try await harness.chat(extra: #""n": 2"#)
        let choices = try #require(reply.json["choices"] as? [[String: Any]])
        #expect(choices.map { $0["index"] as? Int } == [0, 1])
        let texts = choices.map { ($0["message"] as? [String: Any])?["content"] as? String }
        #expect(texts[0] != texts[1])
        #expect(((reply.json["usage"] as? [String: Any])?["strata"] as? [String: Any])?["calls"] as? Int == 2)
        let tooMany = try await harness.chat(extra: #""n": 3"#)
        #expect(tooMany.status == 400)
        #expect(tooMany.error["param"] as? String == "n")
    }

    @Test func aStreamFollowsOpenAIsWireFormat() async throws {
        let harness = try await ServeHarness([("alpha", sampleAndFuse)], upstream: try ScriptedLLMServer())
        defer { Task { await harness.stop() } }
        let whole = try await harness.chat()
        let reply = try await harness.chat(extra: #""stream": true, "stream_options": {"include_usage": true}"#)
        #expect(reply.status == 200)
        #expect(reply.headers["content-type"] == "text/event-stream")
        #expect(reply.headers["x-strata-stream-mode"] == "tokens")
        #expect(reply.events.last == "[DONE]")
        let chunks = reply.chunks
        let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
        #expect(deltas.first?["role"] as? String == "assistant")
        #expect(deltas.count > 3, "the fuse's tokens arrive as several deltas")
        let text = deltas.compactMap { $0["content"] as? String }.joined()
        let wholeText = ((whole.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
        #expect(text == wholeText)
        let finishes = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        #expect(finishes == ["stop"])
        let last = try #require(chunks.last)
        #expect((last["choices"] as? [Any])?.isEmpty == true)
        #expect((last["usage"] as? [String: Any])?["total_tokens"] as? Int == (whole.json["usage"] as? [String: Any])?["total_tokens"] as? Int)
        for chunk in chunks.dropLast() { #expect(chunk["usage"] is NSNull) }
        #expect(reply.body.contains(": strata layer 1/2 ensemble done"))
    }

    @Test func withoutIncludeUsageNoChunkHasAUsageKeyAndASelectingLayerSendsOneDelta() async throws {
        let harness = try await ServeHarness(
            [("ranked", "  - ensemble: [{ model: m, samples: 3 }]\n  - rank: { model: m, top_k: 1 }")], upstream: try ScriptedLLMServer())
        defer { Task { await harness.stop() } }
        let reply = try await harness.chat(model: "ranked", extra: #""stream": true"#)
        #expect(reply.headers["x-strata-stream-mode"] == "whole")
        for chunk in reply.chunks { #expect(chunk["usage"] == nil) }
        let contents = reply.chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String }
        #expect(contents.filter { !$0.isEmpty }.count == 1)
    }

    @Test func keepAliveCommentsFlowWhileEarlierLayersRun() async throws {
        // The samples are held until the clock has ticked three times: three keep-alives, however loaded the machine.
        let release = LockedFlag(false)
        let upstream = try ScriptedLLMServer { request, _ in
            request.promptText.contains("Synthesize") ? .text("fused") : .held(until: { release.value }, timeout: 120, .text("sample"))
        }
        let clock = ManualClock()
        let harness = try await ServeHarness([("alpha", sampleAndFuse)], upstream: upstream) {
            $0.keepAlive = 0.3
            $0.clock = clock
        }
        defer { Task { await harness.stop() } }
        let chat = Task { try await harness.chat(extra: #""stream": true"#) }
        #expect(await eventually(within: 60) { upstream.inFlight >= 1 })
        for _ in 0..<3 {
            // The request's timeout and the keep-alive timer wait on the clock.
            #expect(await clock.waitForSleepers(2))
            clock.advance(seconds: 0.3)
        }
        #expect(await clock.waitForSleepers(2))
        release.value = true
        let reply = try await chat.value
        let beforeData = reply.body.components(separatedBy: "data: ").first ?? ""
        let comments = beforeData.components(separatedBy: "\n\n").filter { $0.hasPrefix(": strata working") }
        #expect(comments.count >= 2, "\(beforeData)")
        #expect(reply.events.last == "[DONE]")
    }

    @Test func modelsHealthVersionAndUnknownRoutes() async throws {
        let harness = try await ServeHarness([("alpha", single), ("beta", single)], upstream: try ScriptedLLMServer()) {
            $0.aliases = ["gpt-4o": "beta"]
        }
        defer { Task { await harness.stop() } }
        let models = try await harness.send(.GET, "/v1/models")
        #expect(((models.json["data"] as? [[String: Any]]) ?? []).map { $0["id"] as? String } == ["alpha", "beta", "gpt-4o"])
        #expect(try await harness.send(.GET, "/v1/models/beta").json["owned_by"] as? String == "strata")
        let missing = try await harness.send(.GET, "/v1/models/alpah")
        #expect(missing.status == 404)
        #expect(missing.error["code"] as? String == "model_not_found")
        #expect((missing.error["message"] as? String)?.contains("Did you mean 'alpha'?") == true)
        #expect(try await harness.chat(model: "gpt-4o").json["model"] as? String == "beta")
        #expect(try await harness.send(.GET, "/health").body == #"{"status":"ok"}"#)
        #expect(((try await harness.send(.GET, "/version")).json["pipelines"] as? [String: String])?["alpha"] == "fingerprint-of-alpha")
        let nowhere = try await harness.send(.GET, "/v2/nowhere")
        #expect(nowhere.status == 404)
        #expect(nowhere.error["code"] as? String == "not_found")
        #expect(nowhere.error.keys.sorted() == ["code", "message", "param", "type"])
    }

    @Test func badRequestsAreRefusedBeforeAnyCall() async throws {
        let harness = try await ServeHarness([("alpha", single)], upstream: try ScriptedLLMServer()) { $0.maxBodyBytes = 64 << 10 }
        defer { Task { await harness.stop() } }
        let cases: [(json: String, status: Int, param: String?)] = [
            (#"{"model": "alpha"}"#, 400, "messages"),
            ("not json", 400, nil),
            (ServeHarness.chat(extra: #""tools": [{"type": "function", "function": {"name": "f"}}]"#), 400, "tools"),
            (ServeHarness.chat(extra: #""response_format": {"type": "json_schema", "json_schema": {"name": "x"}}"#), 400, "response_format"),
            (ServeHarness.chat(extra: #""stream": "yes""#), 400, "stream"),
            (#"{"model": "alpha", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}"#, 400, "messages[0].content"),
            (#"{"model": "alpha", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}"#, 400, "messages[1].role"),
            (ServeHarness.chat(model: "nope"), 404, "model"),
            (ServeHarness.chat(prompt: String(repeating: "x", count: 70_000)), 413, nil),
        ]
        for (json, status, param) in cases {
            let reply = try await harness.send(.POST, "/v1/chat/completions", json: json)
            #expect(reply.status == status, "\(json.prefix(80)): \(reply.body)")
            #expect(reply.error["param"] as? String == param, "\(json.prefix(80))")
            #expect(reply.error.keys.sorted() == ["code", "message", "param", "type"])
        }
        #expect(harness.upstream.requestCount == 0)
        // An empty tools list and tool_choice none are no tools at all.
        #expect(try await harness.chat(extra: #""tools": [], "tool_choice": "none""#).status == 200)
    }

    @Test func keysAreRequiredAndNeverEchoed() async throws {
        let secret = "sk-serve-test-0123456789"
        let harness = try await ServeHarness([("alpha", single)], upstream: try ScriptedLLMServer()) { $0.apiKeys = [secret, "sk-other-key-42"] }
        defer { Task { await harness.stop() } }
        let wrong = "sk-wrong-key-9876543210"
        let denied = try await harness.chat(headers: [("authorization", "Bearer \(wrong)")])
        #expect(denied.status == 401)
        #expect(denied.error["code"] as? String == "invalid_api_key")
        #expect(!denied.body.contains(wrong))
        #expect(try await harness.chat().status == 401)
        #expect(try await harness.send(.GET, "/v1/models").status == 401)
        #expect(try await harness.chat(headers: [("authorization", "Bearer sk-other-key-42")]).status == 200)
        #expect(try await harness.send(.GET, "/health").status == 200)
        let log = try String(contentsOfFile: harness.requestLog, encoding: .utf8)
        #expect(!log.contains(wrong) && !log.contains(secret) && !log.contains("sk-other-key-42"))
        let metrics = try await harness.send(.GET, "/metrics").body
        #expect(!metrics.contains(secret))
        #expect(harness.upstream.requestCount == 1)
    }

    @Test func aPublicAddressWithoutKeysIsRefused() throws {
        var options = ServeOptions()
        options.host = "0.0.0.0"
        #expect(throws: ServeSetupError.self) { try StrataServer(pipelines: [], options: options) }
        options.allowsNoAuth = true
        _ = try StrataServer(pipelines: [], options: options)
    }
}
