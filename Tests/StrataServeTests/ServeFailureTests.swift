import AsyncHTTPClient
import Foundation
import NIOCore
import Strata
import StrataServe
import StrataTestServer
import StrataTestSupport
import Testing

/// What happens when clients leave, upstream fails, or there is too much to do.
@Suite struct ServeFailureTests {
    /// How soon a cancellation must reach the upstream in these tests: the suite runs
    /// beside every other test and the local model on two cores, so this is a bound
    /// that still tells "cancelled" from "ran to the end", not the latency itself.
    static let cancellationBound = 5.0

    @Test func aClientThatDisconnectsCancelsEveryUpstreamCall() async throws {
        let upstream = try ScriptedLLMServer(latency: 30)
        let harness = try await ServeHarness([("alpha", sampleAndFuse)], upstream: upstream)
        defer { Task { await harness.stop() } }
        let client = Task { try await harness.chat() }
        #expect(await eventually(within: 30) { upstream.inFlight == 4 })
        client.cancel()  // closes the connection, as a client's timeout does
        // Far sooner than the upstream's 30 s, even with the whole suite loading two cores
        // (unloaded it takes milliseconds: ServeBenchmark measures it).
        #expect(await eventually(within: Self.cancellationBound) { upstream.inFlight == 0 }, "in flight: \(upstream.inFlight)")
        #expect(upstream.disconnects == 4)
        try await Task.sleep(nanoseconds: 300_000_000)
        #expect(upstream.requestCount == 4, "no later call starts")
        #expect(await eventually(within: 5) { harness.logLines.last?["status"] as? Int == 499 })
        #expect(harness.logLines.last?["disconnected"] as? Bool == true)
    }

    @Test func aStreamingClientThatDisconnectsCancelsToo() async throws {
        let upstream = try ScriptedLLMServer { request, _ in
            request.promptText.contains("Synthesize") ? .text("fused") : .delayed(30, .text("sample"))
        }
        let harness = try await ServeHarness([("alpha", sampleAndFuse)], upstream: upstream)
        defer { Task { await harness.stop() } }
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(harness.port)/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: ServeHarness.chat(extra: #""stream": true"#)))
        let client = Task {
            let response = try await harness.client.execute(request, timeout: .seconds(60))
            for try await _ in response.body {}  // reads the first comment, then waits
        }
        #expect(await eventually(within: 30) { upstream.inFlight == 4 })
        client.cancel()
        #expect(await eventually(within: Self.cancellationBound) { upstream.inFlight == 0 }, "in flight: \(upstream.inFlight)")
        #expect(upstream.disconnects == 4)
        #expect(await eventually(within: 5) { harness.logLines.last?["status"] as? Int == 499 })
        let metrics = try await harness.send(.GET, "/metrics").body
        #expect(metrics.contains("strata_client_disconnects_total 1"), "\(metrics)")
    }

    @Test func aFullQueueAnswers429WithRetryAfter() async throws {
        // The two that run are held upstream until the other eight have their answer, however loaded the machine is.
        let release = LockedFlag(false)
        let upstream = try ScriptedLLMServer { request, _ in
            .held(until: { release.value }, timeout: 120, .text(ScriptedLLMServer.defaultAnswer(for: request)))
        }
        let clock = ManualClock()
        let harness = try await ServeHarness([("alpha", single)], upstream: upstream) {
            $0.maxConcurrent = 2
            $0.maxQueue = 2
            $0.queueTimeout = 0.5
            $0.clock = clock
        }
        defer { Task { await harness.stop() } }
        func refused() -> Int { harness.logLines.filter { $0["status"] as? Int == 429 }.count }
        let releaser = Task {
            // Six are refused at once; then the two running (their request timeouts) and the two queued
            // (their queue timeouts) wait on the clock, and moving it 0.5 s turns the queued two away.
            _ = await eventually(within: 120) { refused() >= 6 && upstream.inFlight == 2 }
            _ = await clock.waitForSleepers(4)
            // Moved in steps, each far below the running requests' 60 s timeout, until the queued two are turned away.
            for _ in 0..<20 where refused() < 8 {
                clock.advance(seconds: 0.5)
                _ = await eventually(within: 1) { refused() >= 8 }
            }
            release.value = true
        }
        defer { releaser.cancel() }
        let replies = try await withThrowingTaskGroup(of: ServeHarness.Reply.self) { group in
            for index in 0..<10 { group.addTask { try await harness.chat(prompt: "q\(index)") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let ok = replies.filter { $0.status == 200 }, busy = replies.filter { $0.status == 429 }
        #expect(ok.count == 2, "two run; two wait 0.5 s and time out, as no slot frees; six find the queue full")
        #expect(busy.count == 8)
        for reply in busy {
            #expect(reply.error["code"] as? String == "server_busy")
            #expect(reply.headers["retry-after"] != nil)
        }
        #expect(upstream.requestCount == 2, "a refused request costs nothing")
    }

    @Test func aModelsLimitHoldsAcrossPipelinesAndRequests() async throws {
        let upstream = try ScriptedLLMServer(latency: 0.1)  // one event loop: a reply is counted out before the next request is read
        let harness = try await ServeHarness(
            [("alpha", "  - ensemble: [{ model: m, samples: 4 }]"), ("beta", "  - ensemble: [{ model: m, samples: 4 }]")],
            upstream: upstream, maxInFlight: 3)
        defer { Task { await harness.stop() } }
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<6 { group.addTask { try await harness.chat(model: index % 2 == 0 ? "alpha" : "beta", prompt: "q\(index)").status } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 6))
        #expect(upstream.requestCount == 24)
        #expect(upstream.maxInFlight == 3)
    }

    @Test func aSlowPipelineTimesOutWith504AndItsCallsAreCancelled() async throws {
        let upstream = try ScriptedLLMServer(latency: 30)
        let clock = ManualClock()
        let harness = try await ServeHarness([("alpha", sampleAndFuse)], upstream: upstream) {
            $0.requestTimeout = 1
            $0.clock = clock
        }
        defer { Task { await harness.stop() } }
        let started = Date()
        let chat = Task { try await harness.chat() }
        #expect(await eventually(within: 60) { upstream.inFlight >= 1 })
        #expect(await clock.waitForSleepers(1))
        clock.advance(seconds: 1)
        let reply = try await chat.value
        #expect(reply.status == 504)
        #expect(reply.error["code"] as? String == "timeout")
        // Not the upstream's 30 s: the timeout answered.
        #expect(Date().timeIntervalSince(started) < 20)
        #expect(await eventually(within: Self.cancellationBound) { upstream.inFlight == 0 })
    }

    @Test func upstreamFailuresMapToStatusesClientsRetryCorrectly() async throws {
        let upstream = try ScriptedLLMServer { _, _ in .status(429, message: "slow down", headers: ["Retry-After": "0"]) }
        let harness = try await ServeHarness(
            [("alpha", single), ("checked", verified)], upstream: upstream)
        defer { Task { await harness.stop() } }
        let limited = try await harness.chat()
        #expect(limited.status == 429)
        #expect(limited.error["code"] as? String == "upstream_rate_limited")
        #expect(limited.headers["retry-after"] != nil)

        upstream.setResponder { _, _ in .status(500, message: "boom") }
        let broken = try await harness.chat()
        #expect(broken.status == 502)
        #expect(broken.error["code"] as? String == "upstream_error")
        #expect(broken.headers["x-should-retry"] == nil)

        // Every call succeeds, but verify rejects every candidate: the same request fails again, so no retry.
        upstream.setResponder(rejectingVerifier)
        let rejected = try await harness.chat(model: "checked")
        #expect(rejected.status == 500, "\(rejected.body)")
        #expect(rejected.error["code"] as? String == "pipeline_failed")
        #expect(rejected.headers["x-should-retry"] == "false")
    }

    @Test func aFailureAfterTheHeadersIsSentInBand() async throws {
        let upstream = try ScriptedLLMServer { request, _ in
            request.promptText.contains("Synthesize") ? .status(400, message: "no") : .text("sample")
        }
        let harness = try await ServeHarness(
            [("alpha", "  - ensemble: [{ model: m, samples: 2 }]\n  - fuse: { models: [m], on_failure: fail }")], upstream: upstream)
        defer { Task { await harness.stop() } }
        let reply = try await harness.chat(extra: #""stream": true"#)
        #expect(reply.status == 200)
        let events = reply.events
        #expect(events.last == "[DONE]")
        let error = try #require(reply.chunks.last?["error"] as? [String: Any])
        #expect(error.keys.sorted() == ["code", "message", "param", "type"])
        #expect(events.count == 2, "\(events)")
    }

    @Test func metricsCountRequestsByModelAndStatus() async throws {
        let harness = try await ServeHarness([("alpha", single)], upstream: try ScriptedLLMServer())
        defer { Task { await harness.stop() } }
        for _ in 0..<3 { _ = try await harness.chat() }
        _ = try await harness.chat(model: "nope")
        let text = try await harness.send(.GET, "/metrics").body
        #expect(text.contains(#"strata_requests_total{model="alpha",status="200"} 3"#), "\(text)")
        #expect(text.contains(#"strata_upstream_calls_total{pipeline="alpha",outcome="ok"} 3"#))
        #expect(text.contains("strata_request_duration_seconds_count"))
    }
}
