import Foundation
import HTTPTypes
import Hummingbird
import StrataCache
import StrataProviders
import StrataRuntime

/// `POST /v1/chat/completions`: checks the request (no call is made for a
/// bad one), queues it within the server's limits, runs the pipeline, and
/// answers as OpenAI does, whole or streamed. A client that goes away
/// (its connection's `ConnectionWatch`) cancels the run, and with it every
/// upstream call in flight.
struct ChatCompletionsEndpoint: Sendable {
    let server: ServerState
    let connection: ConnectionWatch?

    func respond(to incoming: Request, requestID: String, started: Date) async -> Response {
        let request = incoming
        var log = server.logEntry(request, id: requestID, started: started)
        let buffer: ByteBuffer
        do {
            let limit = server.options.maxBodyBytes, body = request.body
            // A client sending its body slowly holds a connection and a descriptor: it gets a deadline.
            buffer = try await withDeadline(server.options.bodyTimeout, clock: server.options.clock) { try await body.collect(upTo: limit) }
        } catch let late as DeadlineExceeded {
            return server.finish(
                APIError(
                    status: .requestTimeout, type: "invalid_request_error", code: "body_timeout", param: nil,
                    message: "The request body did not arrive within \(String(format: "%g", late.seconds)) s."),
                log: &log, requestID: requestID)
        } catch {
            return server.finish(.tooLarge(limit: server.options.maxBodyBytes), log: &log, requestID: requestID)
        }
        let parsed: ChatCompletionRequest
        do {
            parsed = try ChatCompletionRequest.parse(Data(buffer: buffer), maxN: server.options.maxN)
        } catch {
            return server.finish(error, log: &log, requestID: requestID)
        }
        log.model = parsed.model
        log.stream = parsed.stream
        log.user = parsed.user
        log.metadata = parsed.metadata
        log.ignoredParams = parsed.ignored.isEmpty ? nil : parsed.ignored
        if server.options.logsContent { log.messages = parsed.messages.map { ["role": $0.role.rawValue, "content": $0.content] } }
        guard let pipeline = server.catalog.pipeline(named: parsed.model) else {
            return server.finish(server.catalog.unknown(parsed.model), log: &log, requestID: requestID)
        }
        do {
            try await server.gate.enter()
        } catch RequestGate.Refusal.draining {
            return server.finish(.shuttingDown, log: &log, requestID: requestID)
        } catch {
            return server.finish(.busy(retryAfter: 1), log: &log, requestID: requestID)
        }
        log.queueSeconds = Date().timeIntervalSince(started)
        server.reportLoad()
        let run = CompletionRun(
            pipeline: pipeline, request: parsed, requestID: requestID,
            timeout: server.options.timeout(latencyBudget: pipeline.runtime.pipeline.budget.latencySeconds),
            tickInterval: parsed.stream ? server.options.keepAlive : nil, clock: server.options.clock)
        if parsed.stream {
            return StreamedCompletion(server: server, run: run, requestID: requestID, log: log, started: started)
                .response(connection: connection)
        }
        defer {
            server.gate.leave()
            server.reportLoad()
        }
        return await whole(run, log: &log, requestID: requestID)
    }

    /// A non-streamed answer, once every choice has finished.
    private func whole(_ run: CompletionRun, log: inout RequestLog.Entry, requestID: String) async -> Response {
        let answered: (results: [RunResult], timedOut: Bool)? =
            if let connection { try? await connection.run { await run.results() } } else { await run.results() }
        guard let outcome = answered else {
            // The client went away: the runs were cancelled with it. Nobody reads this answer.
            server.metrics.disconnected()
            log.disconnected = true
            return server.finish(status: 499, log: &log)
        }
        let usage = outcome.results.totalUsage
        log.record(usage)
        if outcome.timedOut { return server.finish(.timeout(after: run.timeout), log: &log, requestID: requestID, usage: usage) }
        if let failed = outcome.results.first(where: { $0.answer == nil }) {
            let error = APIError.failed(failed.failure ?? "unknown failure", kind: failed.failureKind, model: run.pipeline.name)
            return server.finish(error, log: &log, requestID: requestID, usage: usage)
        }
        let identity = server.identity(for: run.pipeline)
        let body = ChatCompletion(
            identity: identity,
            choices: outcome.results.enumerated().map { .init(index: $0, content: $1.answer ?? "", finishReason: $1.finishReason) },
            usage: CompletionUsage(usage: usage))
        if server.options.logsContent { log.answer = outcome.results.first?.answer }
        var headers = server.costHeaders(usage, requestID: requestID, started: log.startedAt)
        if let ignored = run.request.ignoredHeader { headers[.strataIgnoredParams] = ignored }
        headers[.contentType] = "application/json"
        server.finished(log: &log, status: 200, usage: usage)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: ServeJSON.encode(body))))
    }
}
