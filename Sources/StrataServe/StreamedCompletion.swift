import Foundation
import HTTPTypes
import Hummingbird
import StrataRuntime
import Tracing

/// A streamed answer, as OpenAI streams: `data:` chunks, the role in each
/// choice's first delta, one final usage chunk with no choices when the
/// client asked for `stream_options.include_usage`, then `data: [DONE]`.
/// While earlier layers run, `: strata …` comment lines (which clients skip)
/// keep proxies from closing an idle connection. A failure after the 200 is
/// sent in-band as `data: {"error": …}`, which the official SDK raises.
struct StreamedCompletion: Sendable {
    let server: ServerState
    let run: CompletionRun
    /// Where the stream says what it cost and how it ended, for the middleware that logs it once written.
    let record: RequestRecord
    let started: Date
    /// The request's server span, ended when the stream is.
    var span: (any Span)? = nil

    func response(connection: ConnectionWatch?) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        headers[.strataStreamMode] = run.pipeline.streamMode
        if let ignored = run.request.ignoredHeader { headers[.strataIgnoredParams] = ignored }
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { [record, server, span] writer in
                var state = StreamState(choices: run.request.n)
                defer {
                    record.used(state.usage)
                    span?.attributes["http.response.status_code"] = state.error.map { Int($0.status.code) } ?? 200
                    span?.end()
                }
                try await stream(into: &writer, state: &state, connection: connection)
                // A client gone at the end is told apart from a finished stream (it is logged as 499).
                if connection?.isClosed == true { throw CancellationError() }
                try await writer.finish(nil)
                if let error = state.error {
                    record.update { $0.error = error.code }
                    record.ended(status: Int(error.status.code))
                } else if server.options.logsContent {
                    record.update { $0.answer = state.answers[0] }
                }
            })
    }

    /// What the stream has sent so far, per choice.
    struct StreamState {
        var roleSent: [Bool]
        var streamed: [String]
        var answers: [String?]
        var finished = 0
        var usage = RunUsage()
        var error: APIError?
        var firstContent: Date?

        init(choices: Int) {
            roleSent = Array(repeating: false, count: choices)
            streamed = Array(repeating: "", count: choices)
            answers = Array(repeating: nil, count: choices)
        }
    }

    /// Writes the events as they come. What one event says goes out in one write (a choice's
    /// role and first text; its finish; the last choice's finish, the usage and `[DONE]`), so a
    /// client reads one packet where it would read several.
    private func stream(into writer: inout any ResponseBodyWriter, state: inout StreamState, connection: ConnectionWatch?) async throws {
        let identity = server.identity(for: run.pipeline)
        let include = run.request.includeUsage
        let (events, sink) = AsyncStream.makeStream(of: RunEvent.self)
        let runner = Task { await run.start(sink) }
        defer { runner.cancel() }
        // A client that goes away cancels the runs even while no byte is being written.
        let token = connection?.onClose { runner.cancel() }
        defer { connection?.remove(token) }
        // A first byte at once: the client knows the request was accepted.
        try await writer.write(Self.comment("strata \(run.pipeline.name): \(run.pipeline.runtime.graph.layers.count) layer(s)"))
        var pending = ByteBuffer()
        eventLoop: for await event in events {
            switch event {
            case .tick:
                pending.writeImmutableBuffer(Self.comment("strata working"))
            case .layer(let index, let report, let count):
                let choice = run.request.n > 1 ? " (choice \(index))" : ""
                pending.writeImmutableBuffer(Self.comment("strata layer \(report.index + 1)/\(count) \(report.kind) done\(choice)"))
            case .delta(let index, let text):
                guard !text.isEmpty else { continue }
                if !state.roleSent[index] {
                    state.roleSent[index] = true
                    pending.writeImmutableBuffer(
                        Self.data(ChatCompletionChunk(identity: identity, index: index, role: "assistant", content: "", includeUsage: include)))
                }
                if state.firstContent == nil {
                    state.firstContent = Date()
                    server.metrics.timeToFirstToken(Date().timeIntervalSince(started))
                }
                state.streamed[index] += text
                pending.writeImmutableBuffer(Self.data(ChatCompletionChunk(identity: identity, index: index, content: text, includeUsage: include)))
            case .finished(let index, let result):
                state.usage = state.usage + result.usage
                guard let answer = result.answer else {
                    try await flush(&pending, into: &writer)
                    let error = APIError.failed(result.failure ?? "unknown failure", kind: result.failureKind, model: run.pipeline.name)
                    return try await fail(error, into: &writer, state: &state)
                }
                state.answers[index] = answer
                close(choice: index, answer: answer, finishReason: result.finishReason, identity: identity, into: &pending, state: &state)
                state.finished += 1
                // The last choice: its finish goes out with the usage and the end.
                if state.finished == run.request.n { break eventLoop }
            case .timedOut:
                try await flush(&pending, into: &writer)
                return try await fail(.timeout(after: run.timeout), into: &writer, state: &state)
            }
            try await flush(&pending, into: &writer)
        }
        if state.finished < run.request.n { throw CancellationError() }
        if include {
            let chunk = ChatCompletionChunk(identity: identity, includeUsage: true, usage: CompletionUsage(usage: state.usage), isUsageChunk: true)
            pending.writeImmutableBuffer(Self.data(chunk))
        }
        pending.writeImmutableBuffer(Self.done)
        try await flush(&pending, into: &writer)
    }

    private func flush(_ pending: inout ByteBuffer, into writer: inout any ResponseBodyWriter) async throws {
        guard pending.readableBytes > 0 else { return }
        try await writer.write(pending)
        pending.clear()
    }

    /// A choice's last chunks: its text (whole, when nothing streamed), then its finish reason.
    private func close(
        choice index: Int, answer: String, finishReason: String, identity: CompletionIdentity, into pending: inout ByteBuffer,
        state: inout StreamState
    ) {
        let include = run.request.includeUsage
        if !state.roleSent[index] {
            state.roleSent[index] = true
            pending.writeImmutableBuffer(
                Self.data(ChatCompletionChunk(identity: identity, index: index, role: "assistant", content: "", includeUsage: include)))
        }
        if state.streamed[index].isEmpty {
            pending.writeImmutableBuffer(Self.data(ChatCompletionChunk(identity: identity, index: index, content: answer, includeUsage: include)))
        }
        pending.writeImmutableBuffer(Self.data(ChatCompletionChunk(identity: identity, index: index, finishReason: finishReason, includeUsage: include)))
    }

    /// A failure after the 200: in-band, then the end of the stream.
    private func fail(_ error: APIError, into writer: inout any ResponseBodyWriter, state: inout StreamState) async throws {
        state.error = error
        var line = ByteBuffer(string: "data: ")
        line.writeBytes(error.json)
        line.writeString("\n\n")
        line.writeImmutableBuffer(Self.done)
        try await writer.write(line)
    }

    static func data(_ chunk: ChatCompletionChunk) -> ByteBuffer {
        var line = Array("data: ".utf8)
        chunk.json.write(into: &line)
        line += "\n\n".utf8
        return ByteBuffer(bytes: line)
    }

    static func comment(_ text: String) -> ByteBuffer { ByteBuffer(string: ": \(text)\n\n") }

    static let done = ByteBuffer(string: "data: [DONE]\n\n")
}
