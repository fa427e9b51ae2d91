import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request as the test server saw it.
package struct ReceivedRequest: @unchecked Sendable {
    // Sendable by hand: a value type of immutable data; `body` is decoded afresh on each read, so no `Any` is shared.
    package var method: String
    package var path: String
    package var headers: [String: String]
    package var body: [String: Any] { (try? JSONSerialization.jsonObject(with: rawBody)) as? [String: Any] ?? [:] }
    package var rawBody: Data
    /// When the server read it.
    package var received = Date()

    /// `anthropic` for `/messages`, `openai` otherwise.
    package var isAnthropic: Bool { path.hasSuffix("/messages") }
    /// All message texts, system prompt included.
    package var promptText: String { messages.map(\.content).joined(separator: "\n") }

    /// The conversation as sent, system prompt first, with Anthropic's content blocks read as their text.
    package var messages: [(role: String, content: String)] {
        func text(_ content: Any?) -> String {
            if let string = content as? String { return string }
            return (content as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.joined(separator: "\n\n")
        }
        let body = body
        var parts: [(role: String, content: String)] = []
        if body["system"] != nil { parts.append(("system", text(body["system"]))) }
        for message in body["messages"] as? [[String: Any]] ?? [] { parts.append((message["role"] as? String ?? "", text(message["content"]))) }
        return parts
    }

    /// The prompt as a chat template lays it out, role by role: what a prompt cache compares.
    package var renderedPrompt: [UInt8] { Array(messages.map { "<|\($0.role)|>\n\($0.content)\n" }.joined().utf8) }
    package var seed: Int? { body["seed"] as? Int }
    /// Completions asked for (OpenAI `n`; 1 when absent).
    package var n: Int { body["n"] as? Int ?? 1 }

    /// Choice `index` of a request with `n`, as the request for it alone:
    /// without `n`, and with the seed moved on by the index.
    package func choice(_ index: Int) -> ReceivedRequest {
        var object = body
        object.removeValue(forKey: "n")
        if let seed { object["seed"] = seed + index }
        var copy = self
        copy.rawBody = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? rawBody
        return copy
    }
    package var stream: Bool { body["stream"] as? Bool ?? false }
}

/// What the server does with one request.
package indirect enum ScriptedReply: Sendable {
    /// A normal completion (in the request's wire format, streamed if asked).
    case text(String, inputTokens: Int = 10, outputTokens: Int = 5)
    /// A completion whose every token has this log-probability, when the
    /// request asks for them (OpenAI `logprobs`, with `top_logprobs`
    /// alternatives below it); a `.text` reply's tokens have -0.05.
    case scored(String, logprob: Double)
    /// Several choices (OpenAI `n > 1`).
    case texts([String])
    /// Several choices with the request's usage.
    case choices([String], inputTokens: Int, outputTokens: Int)
    /// An error status with a JSON error body and optional headers (e.g. `Retry-After`).
    case status(Int, message: String = "scripted error", headers: [String: String] = [:])
    /// A body that is not valid JSON.
    case malformedJSON
    /// A 200 whose Content-Length promises more than is sent; the connection then closes.
    case truncated
    /// Never answers (until the client gives up).
    case hang
    /// Streams `text` in `chunks` pieces, `interval` seconds apart.
    case slowStream(String, chunks: Int, interval: Double)
    /// A raw body with a status and content type.
    case raw(status: Int, contentType: String, body: String)
    /// Another reply, sent this many seconds later (on top of the server's latency).
    case delayed(Double, ScriptedReply)
    /// Another reply, held until `condition` holds (checked every 5 ms) or
    /// `timeout` seconds pass: tests of what a client sends while it waits.
    case held(until: @Sendable () -> Bool, timeout: Double, ScriptedReply)
}

/// An in-process OpenAI- and Anthropic-compatible server on 127.0.0.1 with a
/// random port: real HTTP over real sockets, scripted replies, fixed latency
/// and fault injection.
package final class ScriptedLLMServer: @unchecked Sendable {
    // Sendable by hand: the request log, responder and latency are touched only with `lock` held; `channel` only in init and shutdown.
    package typealias Responder = @Sendable (ReceivedRequest, Int) -> ScriptedReply

    private let group: MultiThreadedEventLoopGroup
    private var channel: Channel?
    private let lock = NSLock()
    private var _requests: [ReceivedRequest] = []
    private var _responder: Responder
    private var _latency: Double
    private var _inFlight = 0
    private var _maxInFlight = 0
    private var _disconnects = 0
    private var _promptCache: PromptCacheSimulation?

    package private(set) var port: Int = 0
    package var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    /// Starts serving. `latency` delays every reply; `responder` gets each request and its 0-based index.
    package init(latency: Double = 0, threads: Int = 1, responder: @escaping Responder = ScriptedLLMServer.echo) throws {
        self._latency = latency
        self._responder = responder
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(RequestHandler(server: self))
                }
            }
            .childChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        port = channel?.localAddress?.port ?? 0
    }

    deinit {
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }

    package func shutdown() {
        try? channel?.close().wait()
        channel = nil
    }

    /// Every request received so far, in arrival order.
    package var requests: [ReceivedRequest] { lock.withLock { _requests } }
    package var requestCount: Int { lock.withLock { _requests.count } }
    /// The most requests that were being handled at once.
    package var maxInFlight: Int { lock.withLock { _maxInFlight } }

    package func setResponder(_ responder: @escaping Responder) { lock.withLock { _responder = responder } }
    /// From now on, plays OpenAI's prompt cache: a text reply's usage counts the prompt's tokens and reports
    /// the part an earlier prompt shared as cached (see `PromptCacheSimulation`).
    package func simulatePromptCache() { lock.withLock { _promptCache = PromptCacheSimulation() } }
    var promptCache: PromptCacheSimulation? { lock.withLock { _promptCache } }
    package func setLatency(_ latency: Double) { lock.withLock { _latency = latency } }
    package func resetRecords() {
        lock.withLock {
            _requests.removeAll(); _maxInFlight = 0; _disconnects = 0
        }
    }

    fileprivate func accept(_ request: ReceivedRequest) -> (ScriptedReply, Double) {
        lock.withLock {
            let index = _requests.count
            _requests.append(request)
            _inFlight += 1
            _maxInFlight = max(_maxInFlight, _inFlight)
            return (Self.honoringN(request) { _responder($0, index) }, _latency)
        }
    }

    /// A request with `n` gets one choice per completion: the responder
    /// answers each as the request for that choice alone would be answered
    /// (seed + index), so a scripted model gives the same samples with and
    /// without `n`. Usage counts the prompt once. When any choice's reply is
    /// not a plain text, the first such reply answers the whole request.
    static func honoringN(_ request: ReceivedRequest, _ respond: (ReceivedRequest) -> ScriptedReply) -> ScriptedReply {
        guard request.n > 1, !request.isAnthropic else { return respond(request) }
        var texts: [String] = [], input = 0, output = 0, delay = 0.0
        for index in 0..<request.n {
            var reply = respond(request.choice(index))
            // The choices are written side by side: the request takes as long as its slowest.
            while case .delayed(let extra, let inner) = reply {
                delay = max(delay, extra)
                reply = inner
            }
            guard case .text(let text, let inputTokens, let outputTokens) = reply else { return reply }
            texts.append(text)
            if index == 0 { input = inputTokens }
            output += outputTokens
        }
        let choices = ScriptedReply.choices(texts, inputTokens: input, outputTokens: output)
        return delay > 0 ? .delayed(delay, choices) : choices
    }

    fileprivate func finished() { lock.withLock { _inFlight -= 1 } }
    fileprivate func disconnected() { lock.withLock { _disconnects += 1 } }

    /// Requests received whose reply is not yet sent, on connections still open.
    package var inFlight: Int { lock.withLock { _inFlight } }
    /// Requests whose client closed the connection before the reply.
    package var disconnects: Int { lock.withLock { _disconnects } }

    /// The default responder: answers like a tiny, deterministic model.
    /// Rank prompts get a reversed permutation, critiques one per candidate,
    /// verdicts `[Correct]`, unit-test judges `[Passed]`; anything else echoes
    /// the last user message with the seed.
    package static let echo: Responder = { request, _ in
        .text(defaultAnswer(for: request))
    }

    package static func defaultAnswer(for request: ReceivedRequest) -> String {
        let prompt = request.promptText
        let count = countCandidates(in: prompt)
        // JSON-schema requests get JSON in the schema's shape.
        if let format = request.body["response_format"] as? [String: Any],
            let name = (format["json_schema"] as? [String: Any])?["name"] as? String
        {
            switch name {
            case "critiques":
                return #"{"critiques": ["# + (1...max(1, count)).map { _ in #"{"strengths": "clear", "weaknesses": "none found"}"# }.joined(separator: ", ")
                    + "]}"
            case "verdict": return #"{"verdict": "correct"}"#
            case "tests": return #"{"tests": ["The response answers.", "The response is short."]}"#
            case "passed": return #"{"passed": [true, true]}"#
            default: break
            }
        }
        if prompt.contains("Rank the") {
            if (request.body["response_format"] as? [String: Any]) != nil {
                return "{\"ranking\": [" + (1...max(1, count)).reversed().map(String.init).joined(separator: ", ") + "]}"
            }
            return (1...max(1, count)).reversed().map { "[\($0)]" }.joined(separator: " > ")
        }
        if prompt.contains("Strengths:") {
            return (1...max(1, count)).map { "[\($0)] Strengths: clear.\nWeaknesses: none found." }.joined(separator: "\n")
        }
        if prompt.contains("[Correct] or [Incorrect]") { return "The reasoning holds. [Correct]" }
        if prompt.contains("[Passed] or") {
            let tests = prompt.components(separatedBy: "\n").filter { $0.hasPrefix("[") && $0.contains("]") }.count
            return (1...max(1, tests)).map { "[\($0)] [Passed]" }.joined(separator: "\n")
        }
        if prompt.contains("unit tests for the instruction") { return "[1] The response answers.\n[2] The response is short." }
        let last = (request.body["messages"] as? [[String: Any]])?.last?["content"] as? String ?? ""
        return "answer(seed \(request.seed.map(String.init) ?? "none")): \(last.prefix(60))"
    }

    /// Candidates are embedded as lines starting `[i]`.
    package static func countCandidates(in prompt: String) -> Int {
        var highest = 0
        for line in prompt.split(separator: "\n") where line.hasPrefix("[") {
            if let close = line.firstIndex(of: "]"), let number = Int(line[line.index(after: line.startIndex)..<close]) {
                highest = max(highest, number)
            }
        }
        return highest
    }
}

private final class RequestHandler: ChannelInboundHandler, @unchecked Sendable {
    // Sendable by hand: NIO calls a handler only on its channel's event loop.
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: ScriptedLLMServer
    var head: HTTPRequestHead?
    var body = Data()

    /// A request was received and its reply is not yet sent.
    var awaitingReply = false

    init(server: ScriptedLLMServer) { self.server = server }

    /// The reply is out (or the connection is gone): the request is no longer in flight.
    func replied() {
        guard awaitingReply else { return }
        awaitingReply = false
        server.finished()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The client closed the connection before its reply: it gave up (or was cancelled).
        if awaitingReply {
            server.disconnected()
            replied()
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = Data()
        case .body(var buffer):
            if let bytes = buffer.readBytes(length: buffer.readableBytes) { body.append(contentsOf: bytes) }
        case .end:
            guard let head else { return }
            handle(head, context: context)
        }
    }

    func handle(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers: [String: String] = [:]
        for (name, value) in head.headers { headers[name.lowercased()] = value }
        if head.method == .GET {
            let body = head.uri.hasSuffix("/models") ? #"{"object":"list","data":[{"id":"scripted","object":"model"}]}"# : #"{"status":"ok"}"#
            write(status: .ok, contentType: "application/json", body: body, context: context)
            return
        }
        let request = ReceivedRequest(method: "\(head.method)", path: head.uri, headers: headers, rawBody: body)
        awaitingReply = true
        var (reply, latency) = server.accept(request)
        while case .delayed(let extra, let inner) = reply {
            latency += extra
            reply = inner
        }
        let loop = context.eventLoop
        let respond = { [self] in self.respond(reply, to: request, context: context) }
        if latency > 0 {
            loop.scheduleTask(in: .nanoseconds(Int64(latency * 1e9)), respond)
        } else {
            respond()
        }
    }

    func respond(_ reply: ScriptedReply, to request: ReceivedRequest, context: ChannelHandlerContext) {
        switch reply {
        case .text(let text, let input, let output):
            let simulated = server.promptCache?.usage(of: request.renderedPrompt)
            if request.stream {
                streamReply(
                    text, chunks: 3, interval: 0, request: request, usage: (simulated?.input ?? input, output), cached: simulated?.cached ?? 0,
                    context: context)
            } else {
                let body = Self.completion([text], request: request, usage: (simulated?.input ?? input, output), cached: simulated?.cached ?? 0)
                write(status: .ok, contentType: "application/json", body: body, context: context)
            }
        case .scored(let text, let logprob):
            write(
                status: .ok, contentType: "application/json", body: Self.completion([text], request: request, usage: (10, 5), logprob: logprob),
                context: context)
        case .texts(let texts):
            write(status: .ok, contentType: "application/json", body: Self.completion(texts, request: request, usage: (10, 5 * texts.count)), context: context)
        case .choices(let texts, let input, let output):
            write(status: .ok, contentType: "application/json", body: Self.completion(texts, request: request, usage: (input, output)), context: context)
        case .status(let code, let message, let extra):
            let body =
                request.isAnthropic
                ? #"{"type":"error","error":{"type":"scripted","message":"\#(message)"}}"#
                : #"{"error":{"message":"\#(message)","type":"scripted"}}"#
            write(status: HTTPResponseStatus(statusCode: code), contentType: "application/json", body: body, extraHeaders: extra, context: context)
        case .malformedJSON:
            write(status: .ok, contentType: "application/json", body: #"{"choices": [ {"message": "#, context: context)
        case .truncated:
            var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "4096")])
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            var buffer = context.channel.allocator.buffer(capacity: 32)
            buffer.writeString(#"{"choices": [{"message": {"con"#)
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            context.close(promise: nil)
            replied()
        case .hang:
            break  // the client's timeout ends it; the connection closes with the server
        case .slowStream(let text, let chunks, let interval):
            streamReply(text, chunks: chunks, interval: interval, request: request, usage: (10, chunks), context: context)
        case .raw(let status, let contentType, let body):
            write(status: HTTPResponseStatus(statusCode: status), contentType: contentType, body: body, context: context)
        case .delayed(_, let inner):
            respond(inner, to: request, context: context)
        case .held(let condition, let timeout, let inner):
            let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout * 1e9))
            func poll() {
                if condition() || NIODeadline.now() >= deadline {
                    respond(inner, to: request, context: context)
                } else {
                    context.eventLoop.scheduleTask(in: .milliseconds(5)) { poll() }
                }
            }
            poll()
        }
    }

    static func completion(_ texts: [String], request: ReceivedRequest, usage: (Int, Int), cached: Int = 0, logprob: Double = -0.05) -> String {
        let object: [String: Any]
        if request.isAnthropic {
            object = [
                "id": "msg_test", "type": "message", "role": "assistant",
                "content": [["type": "text", "text": texts.first ?? ""]], "stop_reason": "end_turn",
                // Anthropic's input_tokens leave out what was read from the cache.
                "usage": ["input_tokens": usage.0 - cached, "output_tokens": usage.1, "cache_read_input_tokens": cached],
            ]
        } else {
            object = [
                "id": "chatcmpl-test", "object": "chat.completion",
                "choices": texts.enumerated().map { offset, text -> [String: Any] in
                    var choice: [String: Any] = ["index": offset, "message": ["role": "assistant", "content": text], "finish_reason": "stop"]
                    if request.body["logprobs"] as? Bool == true {
                        choice["logprobs"] = Self.logprobs(text, logprob: logprob, alternatives: request.body["top_logprobs"] as? Int ?? 0)
                    }
                    return choice
                },
                "usage": [
                    "prompt_tokens": usage.0, "completion_tokens": usage.1, "total_tokens": usage.0 + usage.1,
                    "prompt_tokens_details": ["cached_tokens": cached],
                ],
            ]
        }
        return String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }

    /// OpenAI's `logprobs` object for a text, a token per word: each chosen
    /// with `logprob`, and the probability left over spread over the
    /// alternatives, halving from one to the next (as a real distribution
    /// would: an unsure token's alternatives are likely, a sure one's are not).
    static func logprobs(_ text: String, logprob: Double, alternatives: Int) -> [String: Any] {
        let tokens = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        return [
            "content": tokens.map { token -> [String: Any] in
                [
                    "token": token, "logprob": logprob,
                    "top_logprobs": (0..<alternatives).map { rank -> [String: Any] in
                        let rest = max(1e-9, 1 - exp(logprob))
                        return ["token": rank == 0 ? token : "alt\(rank)", "logprob": rank == 0 ? logprob : log(rest * pow(0.5, Double(rank)))]
                    },
                ]
            }
        ]
    }

    func streamReply(
        _ text: String, chunks: Int, interval: Double, request: ReceivedRequest, usage: (Int, Int), cached: Int = 0, context: ChannelHandlerContext
    ) {
        let headers = HTTPHeaders([("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        let scalars = Array(text)
        let size = max(1, (scalars.count + chunks - 1) / max(1, chunks))
        var pieces: [String] = stride(from: 0, to: scalars.count, by: size).map { String(scalars[$0..<min(scalars.count, $0 + size)]) }
        if pieces.isEmpty { pieces = [""] }
        var events: [String] = []
        if request.isAnthropic {
            events.append(
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":\(usage.0 - cached),\"cache_read_input_tokens\":\(cached)}}}\n\n"
            )
            for piece in pieces {
                let data =
                    (try? JSONSerialization.data(withJSONObject: ["type": "content_block_delta", "delta": ["type": "text_delta", "text": piece]])) ?? Data()
                events.append("event: content_block_delta\ndata: \(String(decoding: data, as: UTF8.self))\n\n")
            }
            events.append(
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":\(usage.1)}}\n\n"
            )
            events.append("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
        } else {
            for piece in pieces {
                let data = (try? JSONSerialization.data(withJSONObject: ["choices": [["index": 0, "delta": ["content": piece]]]])) ?? Data()
                // Split each event across two writes, mid-line, as real servers' TCP segments do.
                let event = "data: \(String(decoding: data, as: UTF8.self))\r\n\r\n"
                let middle = event.index(event.startIndex, offsetBy: event.count / 2)
                events.append(String(event[..<middle]))
                events.append(String(event[middle...]))
            }
            events.append(
                "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":\(usage.0),\"completion_tokens\":\(usage.1),\"prompt_tokens_details\":{\"cached_tokens\":\(cached)}}}\n\n"
            )
            events.append("data: [DONE]\n\n")
        }
        sendEvents(events[...], interval: interval, context: context)
    }

    func sendEvents(_ events: ArraySlice<String>, interval: Double, context: ChannelHandlerContext) {
        guard let first = events.first else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            replied()
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: first.utf8.count)
        buffer.writeString(first)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let rest = events.dropFirst()
        if interval > 0, first.hasSuffix("\n\n") {
            context.eventLoop.scheduleTask(in: .nanoseconds(Int64(interval * 1e9))) { self.sendEvents(rest, interval: interval, context: context) }
        } else {
            sendEvents(rest, interval: interval, context: context)
        }
    }

    func write(status: HTTPResponseStatus, contentType: String, body: String, extraHeaders: [String: String] = [:], context: ChannelHandlerContext) {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(body.utf8.count))])
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        replied()
    }
}
