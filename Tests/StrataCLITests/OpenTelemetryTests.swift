import AsyncHTTPClient
import Foundation
import NIOCore
import StrataSandbox
import StrataTestServer
import StrataTestSupport
import Testing

/// `--otel` end to end: the real binary exports over OTLP/HTTP (JSON) to an
/// in-process receiver, which checks span names, kinds, attributes and
/// parentage against the GenAI semantic conventions, and the metrics.
@Suite struct OpenTelemetryTests {
    /// One span as OTLP/JSON carries it.
    struct ExportedSpan {
        var traceID: String
        var spanID: String
        var parentID: String
        var name: String
        var kind: String
        var start: UInt64
        var end: UInt64
        var attributes: [String: Any]
    }

    static func spans(_ collector: ScriptedLLMServer) -> [ExportedSpan] {
        collector.requests.filter { $0.path == "/v1/traces" }.flatMap { request -> [ExportedSpan] in
            let resources = request.body["resourceSpans"] as? [[String: Any]] ?? []
            return resources.flatMap { ($0["scopeSpans"] as? [[String: Any]] ?? []) }.flatMap { ($0["spans"] as? [[String: Any]] ?? []) }.map {
                span in
                var attributes: [String: Any] = [:]
                for attribute in span["attributes"] as? [[String: Any]] ?? [] {
                    guard let key = attribute["key"] as? String, let value = attribute["value"] as? [String: Any] else { continue }
                    attributes[key] = value.values.first
                }
                return ExportedSpan(
                    traceID: hex(span["traceId"]), spanID: hex(span["spanId"]), parentID: hex(span["parentSpanId"]),
                    name: span["name"] as? String ?? "", kind: "\(span["kind"] ?? "")", start: UInt64("\(span["startTimeUnixNano"] ?? 0)") ?? 0,
                    end: UInt64("\(span["endTimeUnixNano"] ?? 0)") ?? 0, attributes: attributes)
            }
        }
    }

    /// An id as hex. OTLP/JSON asks for hex; swift-otel's JSON encoding writes protobuf's base64 (its
    /// default protocol, protobuf, is unaffected), so both are read.
    static func hex(_ value: Any?) -> String {
        guard let text = value as? String, !text.isEmpty else { return "" }
        if text.count % 16 == 0, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
        return Data(base64Encoded: text).map { $0.map { String(format: "%02x", $0) }.joined() } ?? text
    }

    /// An attribute as a number (OTLP/JSON writes 64-bit integers as strings).
    static func number(_ value: Any?) -> Double? {
        if let number = value as? Double { return number }
        if let number = value as? Int { return Double(number) }
        return (value as? String).flatMap(Double.init)
    }

    static func environment(_ collector: ScriptedLLMServer) -> [String: String] {
        ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(collector.port)", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"]
    }

    static func pipeline(_ model: ScriptedLLMServer, in directory: URL) throws {
        try """
        strata: 1
        name: traced
        models:
          m: { provider: openai-compatible, model: tiny-model, base_url: "\(model.baseURL)" }
        defaults: { max_tokens: 48, temperature: 0.5 }
        layers:
          - ensemble: [{ model: m, samples: 2 }]
          - fuse: [m]
        """.write(to: directory.appendingPathComponent("p.yaml"), atomically: true, encoding: .utf8)
    }

    @Test func runExportsAQueryItsLayersAndEachCallAsGenAISpans() async throws {
        let model = try ScriptedLLMServer { _, _ in .text("The answer is 42.", inputTokens: 12, outputTokens: 7) }
        let collector = try ScriptedLLMServer { _, _ in .raw(status: 200, contentType: "application/json", body: "{}") }
        let directory = try temporaryDirectory()
        try Self.pipeline(model, in: directory)
        let secret = "what is six times seven, secretly"
        let outcome = try await StrataBinary.run(
            ["run", "p.yaml", "--prompt", secret, "--otel"], environment: Self.environment(collector), in: directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")

        let spans = Self.spans(collector)
        let query = try #require(spans.first { $0.name == "strata.query traced" }, "\(spans.map(\.name))")
        let layers = spans.filter { $0.name.hasPrefix("strata.layer ") }
        #expect(layers.map(\.name).sorted() == ["strata.layer ensemble", "strata.layer fuse"])
        #expect(layers.allSatisfy { $0.parentID == query.spanID && $0.traceID == query.traceID })
        let calls = spans.filter { $0.name == "chat tiny-model" }
        #expect(calls.count == 3, "two samples and a fuse")
        for call in calls {
            #expect(call.kind == "SPAN_KIND_CLIENT" || call.kind == "3")
            #expect(call.traceID == query.traceID)
            let layer = try #require(layers.first { $0.spanID == call.parentID }, "a call's parent is its layer")
            #expect(layer.start <= call.start && call.end <= layer.end)
            #expect(call.attributes["gen_ai.operation.name"] as? String == "chat")
            #expect(call.attributes["gen_ai.provider.name"] as? String == "openai-compatible")
            #expect(call.attributes["gen_ai.request.model"] as? String == "tiny-model")
            #expect(Self.number(call.attributes["gen_ai.request.temperature"]) != nil)
            #expect(Self.number(call.attributes["gen_ai.request.max_tokens"]) != nil)
            #expect(Self.number(call.attributes["gen_ai.usage.input_tokens"]) == 12)
            #expect(Self.number(call.attributes["gen_ai.usage.output_tokens"]) == 7)
            let reasons = (call.attributes["gen_ai.response.finish_reasons"] as? [String: Any])?["values"] as? [[String: Any]]
            #expect(reasons?.first?["stringValue"] as? String == "stop")
        }
        let ensemble = try #require(layers.first { $0.name == "strata.layer ensemble" })
        #expect(calls.filter { $0.parentID == ensemble.spanID }.count == 2)
        #expect(query.start <= calls.map(\.start).min()! && calls.map(\.end).max()! <= query.end)
        // No prompt or reply text leaves the process without --otel-content.
        let exported = collector.requests.map { String(decoding: $0.rawBody, as: UTF8.self) }.joined()
        #expect(!exported.contains(secret) && !exported.contains("The answer is 42"))

        let metrics = collector.requests.filter { $0.path == "/v1/metrics" }.map { String(decoding: $0.rawBody, as: UTF8.self) }.joined()
        #expect(metrics.contains("gen_ai.client.token.usage"), "the token usage histogram")
        #expect(metrics.contains("gen_ai.client.operation.duration"), "the operation duration histogram")
    }

    @Test func serveContinuesTheCallersTrace() async throws {
        let model = try ScriptedLLMServer { _, _ in .text("42") }
        let collector = try ScriptedLLMServer { _, _ in .raw(status: 200, contentType: "application/json", body: "{}") }
        let directory = try temporaryDirectory()
        try Self.pipeline(model, in: directory)
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in Self.environment(collector) { environment[key] = value }
        let log = directory.appendingPathComponent("serve.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let serve = ChildProcess(
            StrataBinary.url, arguments: ["serve", "p.yaml", "--port", "0", "--otel"], environment: environment, directory: directory,
            output: .null, error: .handle(try FileHandle(forWritingTo: log)))
        try serve.run()
        var port: Int?
        _ = await eventually(within: 60) {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            port = text.range(of: #"127\.0\.0\.1:(\d+)/v1"#, options: .regularExpression).flatMap { Int(text[$0].dropFirst(10).dropLast(3)) }
            return port != nil
        }
        let served = try #require(port, "serve did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736", parentID = "00f067aa0ba902b7"
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(served)/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "traceparent", value: "00-\(traceID)-\(parentID)-01")
        request.body = .bytes(ByteBuffer(string: #"{"model": "traced", "messages": [{"role": "user", "content": "q"}]}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        #expect(response.status == .ok)
        _ = try await response.body.collect(upTo: 1 << 20)
        // Stopping the server sends what the exporters still hold.
        serve.terminate()
        await waitForExit(serve)

        let spans = Self.spans(collector)
        let server = try #require(spans.first { $0.name == "POST /v1/chat/completions" }, "\(spans.map(\.name))")
        #expect(server.traceID == traceID && server.parentID == parentID, "the caller's trace, continued")
        #expect(server.kind == "SPAN_KIND_SERVER" || server.kind == "2")
        let query = try #require(spans.first { $0.name == "strata.query traced" })
        #expect(query.traceID == traceID && query.parentID == server.spanID)
        #expect(spans.filter { $0.name == "chat tiny-model" }.allSatisfy { $0.traceID == traceID })
        #expect(spans.filter { $0.name == "chat tiny-model" }.count == 3)
    }
}
