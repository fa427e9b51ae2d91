import Foundation
import HTTPTypes
import Hummingbird
import StrataRuntime
import Synchronization

/// What a request's handler learns on the way — the model, the usage, an
/// error answered in-band, whether it was admitted — for the middleware that
/// finishes the request. One per request, in its context.
final class RequestRecord: Sendable {
    private struct State {
        var entry = RequestLog.Entry(id: "", method: "", path: "", status: 0, seconds: 0)
        var admitted = false
        var usage: RunUsage?
        var finished = false
        /// A status the response's head does not tell: a stream's in-band error, or 499 for a client that left.
        var status: Int?
    }
    private let state = Mutex(State())

    func update(_ change: (inout RequestLog.Entry) -> Void) { state.withLock { change(&$0.entry) } }

    /// The request holds a slot of the server's gate, which it gives back when its answer is written.
    func admitted() { state.withLock { $0.admitted = true } }

    /// What the request's runs called and spent.
    func used(_ usage: RunUsage) {
        state.withLock {
            $0.usage = usage
            $0.entry.record(usage)
        }
    }

    /// The request ended with `status` (an error sent in-band, or a client gone), whatever its head said.
    func ended(status: Int) { state.withLock { $0.status = status } }

    /// What the request came to, once: nil when it was finished already.
    fileprivate func finishing() -> (entry: RequestLog.Entry, admitted: Bool, usage: RunUsage?, status: Int?)? {
        state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            return (state.entry, state.admitted, state.usage, state.status)
        }
    }
}

/// Refuses a request without one of the server's keys (401), before its body is read.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = ServeRequestContext
    let state: ServerState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard state.isAuthorized(request) else { throw APIError.unauthorized }
        return try await next(request, context)
    }
}

/// Finishes every pipeline request in one place, whole or streamed: the
/// answer's `x-request-id`, an `APIError` a handler threw as OpenAI's error
/// body, and — once the last byte is written, or the client has gone — the
/// gate's slot given back, the request log's line and the metrics.
struct CompletionAccountingMiddleware: RouterMiddleware {
    typealias Context = ServeRequestContext
    let state: ServerState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let record = context.record, state = state
        record.update { entry in
            entry.id = context.requestID
            entry.method = request.method.rawValue
            entry.path = request.uri.path
            entry.startedAt = context.startedAt
            entry.clientRetry = request.headers[.clientRetryCount].flatMap { Int($0) }
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            record.update { $0.error = error.code ?? error.type }
            response = error.response(requestID: context.requestID)
        }
        response.headers[.requestID] = context.requestID
        let head = Int(response.status.code)
        // The client left before the answer: no byte of it will be written, so it is finished now.
        if context.connection?.isClosed == true {
            state.finish(record, status: head)
            return response
        }
        let body = response.body
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            do {
                try await body.write(writer)
                state.finish(record, status: head)
            } catch {
                // The client went away (or a write failed): the runs were cancelled with it.
                state.metrics.disconnected()
                record.update { $0.disconnected = true }
                record.ended(status: 499)
                state.finish(record, status: head)
                throw error
            }
        }
        return response
    }
}

extension ServerState {
    /// Gives back the request's slot, and logs and counts it.
    fileprivate func finish(_ record: RequestRecord, status head: Int) {
        guard let (entry, admitted, usage, ended) = record.finishing() else { return }
        if admitted {
            gate.leave()
            reportLoad()
        }
        var log = entry
        log.status = ended ?? head
        log.seconds = Date().timeIntervalSince(log.startedAt)
        metrics.finished(
            model: log.model.flatMap { catalog.pipeline(named: $0)?.name } ?? "-", status: log.status, seconds: log.seconds,
            usage: usage)
        requestLog?.write(log)
    }
}
