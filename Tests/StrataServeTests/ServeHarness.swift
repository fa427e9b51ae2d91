import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Strata
import StrataServe
import StrataTestServer
import StrataTestSupport
import Synchronization

/// `StrataServer` in-process on a random loopback port, serving pipelines
/// whose models point at a `ScriptedLLMServer`, and a real HTTP client for it.
final class ServeHarness: Sendable {
    let upstream: ScriptedLLMServer
    let port: Int
    let runtimes: [PipelineRuntime]
    let requestLog: String
    let trace: String
    private let traceWriter: TraceWriter
    private let task: Task<Void, any Error>
    var client: HTTPClient { .shared }

    /// Serves each `(name, layers)` pipeline; `configure` adjusts the options (a request log is always kept).
    init(
        _ pipelines: [(name: String, layers: String)], upstream: ScriptedLLMServer, maxInFlight: Int = 64, cache: Bool = false,
        configure: (inout ServeOptions) -> Void = { _ in }
    ) async throws {
        self.upstream = upstream
        requestLog = temporaryPath("requests.jsonl")
        trace = temporaryPath("trace.jsonl")
        traceWriter = try TraceWriter(path: trace)
        let shared = RuntimeOptions(
            cache: cache ? try ResponseCache(path: temporaryPath("cache.sqlite"), mode: .readwrite) : .disabled,
            trace: traceWriter, retry: quickRetry, timeouts: Timeouts(connect: 10, read: 30, total: 60),
            environment: [:], scheduler: CallScheduler())
        var served: [ServedPipeline] = []
        var runtimes: [PipelineRuntime] = []
        for (name, layers) in pipelines {
            var checked = try pipeline(layers, server: upstream, maxInFlight: maxInFlight)
            checked.name = name
            let runtime = try PipelineRuntime(pipeline: checked, options: shared)
            runtimes.append(runtime)
            served.append(ServedPipeline(name: name, runtime: runtime, fingerprint: "fingerprint-of-\(name)"))
        }
        self.runtimes = runtimes
        var options = ServeOptions()
        options.port = 0
        options.requestLog = requestLog
        configure(&options)
        let server = try StrataServer(pipelines: served, options: options)
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        task = Task { try await server.run(signals: false) { sink.yield($0) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("the server did not start") }
        self.port = port
    }

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    func stop() async {
        task.cancel()
        _ = await task.result
        for runtime in runtimes { try? await runtime.shutdown() }
    }

    struct Reply: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
        var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
        /// The `data:` payloads of a stream, `[DONE]` included.
        var events: [String] { body.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) } }
        var chunks: [[String: Any]] { events.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] } }
    }

    /// One request; the whole body read.
    func send(_ method: HTTPMethod = .POST, _ path: String, json: String? = nil, headers: [(String, String)] = [], timeout: Double = 60) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
        let body = try await response.body.collect(upTo: 64 << 20)
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return Reply(status: Int(response.status.code), headers: fields, body: String(buffer: body))
    }

    /// A chat completion request's JSON.
    static func chat(model: String = "alpha", prompt: String = "What is 2 + 2?", extra: String = "") -> String {
        let escaped = prompt.replacingOccurrences(of: "\"", with: "\\\"")
        return #"{"model": "\#(model)", "messages": [{"role": "user", "content": "\#(escaped)"}]\#(extra.isEmpty ? "" : ", " + extra)}"#
    }

    func chat(model: String = "alpha", prompt: String = "What is 2 + 2?", extra: String = "", headers: [(String, String)] = []) async throws -> Reply {
        try await send(.POST, "/v1/chat/completions", json: Self.chat(model: model, prompt: prompt, extra: extra), headers: headers)
    }

    /// The request log's lines.
    var logLines: [[String: Any]] {
        ((try? String(contentsOfFile: requestLog, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    /// The trace's model-call lines, once every line written so far has reached the file (lines are written off the caller's thread).
    var traceCalls: [[String: Any]] {
        try? traceWriter.flush()
        return ((try? String(contentsOfFile: trace, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.filter { $0["model"] != nil }
    }
}

/// Two layers: four samples, then a fuse — the final layer generates with one call, so its tokens stream.
let sampleAndFuse = """
      - ensemble: [{ model: m, samples: 4 }]
      - fuse: [m]
    """

/// One call.
let single = """
      - ensemble: [{ model: m, samples: 1 }]
    """

/// Two samples, each verified: the pipeline fails when every candidate is rejected.
let verified = """
      - ensemble: [{ model: m, samples: 2 }]
      - verify: { model: m, on_empty: fail }
    """

/// The test server's default answers, except that every verification rejects its candidate.
let rejectingVerifier: ScriptedLLMServer.Responder = { request, _ in
    request.promptText.contains("[Correct] or [Incorrect]")
        ? .text("The reasoning fails. [Incorrect]") : .text(ScriptedLLMServer.defaultAnswer(for: request))
}
