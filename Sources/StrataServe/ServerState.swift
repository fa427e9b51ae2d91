import Foundation
import HTTPTypes
import Hummingbird
import StrataRuntime

/// What every request handler shares: the served pipelines, the limits, the
/// metrics and the request log, and how an answer is finished (logged,
/// counted, and shaped as OpenAI's clients expect).
final class ServerState: Sendable {
    let options: ServeOptions
    let catalog: PipelineCatalog
    let gate: RequestGate
    let metrics = ServeMetrics()
    let requestLog: RequestLog?
    let connections: ConnectionGate

    init(options: ServeOptions, catalog: PipelineCatalog) throws {
        self.options = options
        self.catalog = catalog
        gate = RequestGate(maxConcurrent: options.maxConcurrent, maxQueue: options.maxQueue, queueTimeout: options.queueTimeout, clock: options.clock)
        requestLog = try options.requestLog.map { try RequestLog(path: $0) }
        connections = ConnectionGate(total: options.maxConnections, perAddress: options.maxConnectionsPerAddress)
    }

    /// Whether the request carries one of the server's keys (always, when it has none).
    func isAuthorized(_ request: Request) -> Bool {
        guard !options.apiKeys.isEmpty else { return true }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return false }
        let presented = Array(header.dropFirst("Bearer ".count).utf8)
        // Compared in time independent of where they differ, so a key cannot be guessed byte by byte.
        return options.apiKeys.contains { key in
            let expected = Array(key.utf8)
            guard expected.count == presented.count else { return false }
            return zip(expected, presented).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    func reportLoad() {
        let load = gate.load
        metrics.load(running: load.running, waiting: load.waiting)
    }

    func identity(for pipeline: ServedPipeline) -> CompletionIdentity {
        CompletionIdentity(
            id: "chatcmpl-strata-\(Self.randomID())", created: Int(Date().timeIntervalSince1970), model: pipeline.name,
            fingerprint: "strata-\(pipeline.fingerprint.prefix(12))")
    }

    /// 24 random base-36 characters (about 124 bits).
    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = { String(generator.next() >> 2, radix: 36) }
        return String((digits() + digits()).prefix(24))
    }

    func logEntry(_ request: Request, id: String, started: Date) -> RequestLog.Entry {
        var entry = RequestLog.Entry(
            id: id, method: request.method.rawValue, path: request.uri.path, status: 0, seconds: 0)
        entry.startedAt = started
        entry.clientRetry = request.headers[.clientRetryCount].flatMap { Int($0) }
        return entry
    }

    /// Logs and counts a finished request.
    func finished(log: inout RequestLog.Entry, status: Int, usage: RunUsage? = nil) {
        log.status = status
        log.seconds = Date().timeIntervalSince(log.startedAt)
        metrics.finished(model: log.model.flatMap { catalog.pipeline(named: $0)?.name } ?? "-", status: status, seconds: log.seconds, usage: usage)
        requestLog?.write(log)
    }

    /// An error answer, logged.
    func finish(_ error: APIError, log: inout RequestLog.Entry, requestID: String, usage: RunUsage? = nil) -> Response {
        log.error = error.code ?? error.type
        finished(log: &log, status: Int(error.status.code), usage: usage)
        return Self.response(error, requestID: requestID, extra: usage.map { costHeaders($0, requestID: requestID, started: log.startedAt) })
    }

    /// A request that ended without an answer anyone reads (the client left): logged only.
    func finish(status: Int, log: inout RequestLog.Entry) -> Response {
        finished(log: &log, status: status, usage: nil)
        return Response(status: .init(code: status))
    }

    static func response(_ error: APIError, requestID: String, extra: HTTPFields? = nil) -> Response {
        var headers = extra ?? HTTPFields()
        headers[.contentType] = "application/json"
        headers[.requestID] = requestID
        for (name, value) in error.headers { headers[HTTPField.Name(name)!] = value }
        return Response(status: error.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: error.json)))
    }

    /// `x-request-id` and what the answer cost (non-streamed answers: a stream's headers go before the work).
    func costHeaders(_ usage: RunUsage, requestID: String, started: Date) -> HTTPFields {
        var headers = HTTPFields()
        headers[.requestID] = requestID
        headers[.strataCalls] = String(usage.calls)
        headers[.strataCacheHits] = String(usage.cacheHits)
        headers[.strataUSD] = usage.usd == 0 ? "0" : String(format: "%.6f", usage.usd)
        headers[.strataDurationMS] = String(Int(Date().timeIntervalSince(started) * 1000))
        return headers
    }
}
