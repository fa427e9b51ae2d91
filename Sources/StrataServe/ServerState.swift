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

    /// What the answer cost (non-streamed answers: a stream's headers go before the work).
    func costHeaders(_ usage: RunUsage, started: Date) -> HTTPFields {
        var headers = HTTPFields()
        headers[.strataCalls] = String(usage.calls)
        headers[.strataCacheHits] = String(usage.cacheHits)
        headers[.strataUSD] = usage.usd == 0 ? "0" : String(format: "%.6f", usage.usd)
        headers[.strataDurationMS] = String(Int(Date().timeIntervalSince(started) * 1000))
        return headers
    }
}
