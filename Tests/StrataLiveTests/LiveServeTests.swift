import AsyncHTTPClient
import Foundation
import NIOCore
import Strata
import StrataServe
import StrataTestSupport
import Testing

/// `strata serve` in front of the real local model: one streamed request, read as a client reads it.
@Suite(.enabled(if: LiveServer.isUp, "the local model server is down: start it with `scripts/local-llm start` (scripts/test does)"))
struct LiveServeTests {
    @Test func aStreamedAnswerWithTheWholePipelinesUsage() async throws {
        var checked = try LiveServer.pipeline(
            """
              - ensemble: [{ model: live, samples: 2 }]
              - fuse: [live]
            """)
        checked.name = "live-fuse"
        let runtime = try LiveServer.runtime(checked)
        var options = ServeOptions()
        options.port = 0
        // Three calls on a model the other live tests share took 57-66 s under CI's load: past the default 60 s
        // request timeout, the stream ended with an error instead of its usage.
        options.requestTimeout = 600
        let server = try StrataServer(pipelines: [ServedPipeline(name: "live-fuse", runtime: runtime, fingerprint: "live")], options: options)
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let serving = Task { try await server.run(signals: false) { sink.yield($0) } }
        defer { serving.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())

        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(
            ByteBuffer(
                string:
                    #"{"model": "live-fuse", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "Name one primary colour."}]}"#
            ))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(600))
        #expect(response.status.code == 200)
        let body = String(buffer: try await response.body.collect(upTo: 16 << 20))
        let events = body.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
        #expect(events.last == "[DONE]")
        let chunks = events.dropLast().compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
        #expect(deltas.first?["role"] as? String == "assistant")
        let text = deltas.compactMap { $0["content"] as? String }.joined()
        #expect(!text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(body)")
        let usage = try #require(chunks.last?["usage"] as? [String: Any])
        #expect((usage["strata"] as? [String: Any])?["calls"] as? Int == 3, "two samples and the fuse")
        #expect((usage["prompt_tokens"] as? Int ?? 0) > 0)
        #expect((usage["completion_tokens"] as? Int ?? 0) > 0)
        serving.cancel()
        _ = await serving.result
        try await runtime.shutdown()
    }
}
