import Foundation
import HTTPTypes
import Hummingbird
import StrataCache
import StrataProviders
import StrataRuntime
import Tracing

/// `POST /v1/chat/completions`: reads the request (no call is made for a
/// bad one), takes a slot within the server's limits, runs the pipeline,
/// and answers as OpenAI does, whole or streamed. Errors are thrown as
/// `APIError`s; `CompletionAccountingMiddleware` answers, logs and counts.
/// A client that goes away (its connection's `ConnectionWatch`) cancels the
/// run, and with it every upstream call in flight.
struct ChatCompletionsEndpoint: Sendable {
    let server: ServerState

    func respond(to request: Request, context: ServeRequestContext) async throws -> Response {
        let span = requestSpan(request, context: context)
        do {
            let (parsed, pipeline) = try await parse(request, context: context)
            try await admit(context)
            var run = CompletionRun(
                pipeline: pipeline, request: parsed, requestID: context.requestID,
                timeout: server.options.timeout(latencyBudget: pipeline.runtime.graph.latencyBudget),
                tickInterval: parsed.stream ? server.options.keepAlive : nil, clock: server.options.clock)
            run.traceContext = span?.context
            if parsed.stream {
                return StreamedCompletion(server: server, run: run, record: context.record, started: context.startedAt, span: span)
                    .response(connection: context.connection)
            }
            let response = try await whole(run, context: context)
            span?.attributes["http.response.status_code"] = Int(response.status.code)
            span?.end()
            return response
        } catch {
            if let span {
                span.attributes["http.response.status_code"] = Int((error as? APIError)?.status.code ?? 500)
                span.setStatus(SpanStatus(code: .error))
                span.end()
            }
            throw error
        }
    }

    /// With a tracer: the request's server span, the child of the trace context its headers carry (W3C `traceparent`).
    private func requestSpan(_ request: Request, context: ServeRequestContext) -> (any Span)? {
        guard let tracer = server.options.tracer else { return nil }
        var parent = InstrumentationContext.topLevel
        tracer.extract(request.headers, into: &parent, using: HeaderExtractor())
        let span = tracer.startSpan("POST /v1/chat/completions", context: parent, ofKind: .server)
        span.attributes["http.request.method"] = "POST"
        span.attributes["url.path"] = request.uri.path
        span.attributes["strata.request.id"] = context.requestID
        return span
    }

    /// The request body read within its deadline and size, parsed and checked; the pipeline it names.
    private func parse(_ request: Request, context: ServeRequestContext) async throws -> (ChatCompletionRequest, ServedPipeline) {
        let buffer: ByteBuffer
        do {
            let limit = server.options.maxBodyBytes, body = request.body
            // A client sending its body slowly holds a connection and a descriptor: it gets a deadline.
            buffer = try await withDeadline(server.options.bodyTimeout, clock: server.options.clock) { try await body.collect(upTo: limit) }
        } catch let late as DeadlineExceeded {
            throw APIError(
                status: .requestTimeout, type: "invalid_request_error", code: "body_timeout", param: nil,
                message: "The request body did not arrive within \(String(format: "%g", late.seconds)) s.")
        } catch {
            throw APIError.tooLarge(limit: server.options.maxBodyBytes)
        }
        let parsed = try ChatCompletionRequest.parse(Data(buffer: buffer), maxN: server.options.maxN)
        context.record.update { $0.describe(parsed, withContent: server.options.logsContent) }
        guard let pipeline = server.catalog.pipeline(named: parsed.model) else { throw server.catalog.unknown(parsed.model) }
        return (parsed, pipeline)
    }

    /// Waits for a slot of the server's gate (given back by the middleware when the answer is written).
    private func admit(_ context: ServeRequestContext) async throws {
        do {
            try await server.gate.enter()
        } catch RequestGate.Refusal.draining {
            throw APIError.shuttingDown
        } catch {
            throw APIError.busy(retryAfter: 1)
        }
        context.record.admitted()
        context.record.update { $0.queueSeconds = Date().timeIntervalSince(context.startedAt) }
        server.reportLoad()
    }

    /// A non-streamed answer, once every choice has finished.
    private func whole(_ run: CompletionRun, context: ServeRequestContext) async throws -> Response {
        let answered: (results: [RunResult], timedOut: Bool)? =
            if let connection = context.connection { try? await connection.run { await run.results() } } else { await run.results() }
        guard let outcome = answered else {
            // The client went away: the runs were cancelled with it. Nobody reads this answer.
            server.metrics.disconnected()
            context.record.update { $0.disconnected = true }
            context.record.ended(status: 499)
            return Response(status: .init(code: 499))
        }
        let usage = outcome.results.totalUsage
        context.record.used(usage)
        let costs = server.costHeaders(usage, started: context.startedAt)
        if outcome.timedOut { throw APIError.timeout(after: run.timeout).costing(costs) }
        if let failed = outcome.results.first(where: { $0.answer == nil }) {
            throw APIError.failed(failed.failure ?? "unknown failure", kind: failed.failureKind, model: run.pipeline.name).costing(costs)
        }
        let body = ChatCompletion(
            identity: server.identity(for: run.pipeline),
            choices: outcome.results.enumerated().map { .init(index: $0, content: $1.answer ?? "", finishReason: $1.finishReason) },
            usage: CompletionUsage(usage: usage))
        if server.options.logsContent { context.record.update { $0.answer = outcome.results.first?.answer } }
        var headers = costs
        if let ignored = run.request.ignoredHeader { headers[.strataIgnoredParams] = ignored }
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body.json.bytes)))
    }
}

/// Reads trace context (W3C `traceparent`, `tracestate`) from a request's headers.
struct HeaderExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { carrier[$0] }
    }
}
