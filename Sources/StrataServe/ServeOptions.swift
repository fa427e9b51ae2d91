import Foundation
import StrataChecker
import Tracing

/// How `strata serve` listens, whom it lets in, and how much it takes on at once.
public struct ServeOptions: Sendable {
    /// Where to listen. Loopback unless the user asks otherwise.
    public var host = "127.0.0.1"
    /// 0 picks a free port (reported by `StrataServer.run(onListening:)`).
    public var port = 8000
    /// Bearer keys a client must present; empty means no authentication (loopback only, unless `allowsNoAuth`).
    public var apiKeys: [String] = []
    /// Serve without keys on a non-loopback host, knowingly.
    public var allowsNoAuth = false
    /// Extra model names: alias → pipeline name.
    public var aliases: [String: String] = [:]
    /// Requests running pipelines at once; more wait in a queue.
    public var maxConcurrent = 64
    /// Requests waiting for a slot; more are answered 429 at once.
    public var maxQueue = 256
    /// Seconds a request may wait in the queue before it is answered 429.
    public var queueTimeout = 30.0
    /// Seconds a request may run; nil: twice the pipeline's latency budget, at least 60 s.
    public var requestTimeout: Double?
    /// Seconds between `: strata` comment lines while a streamed answer's earlier layers run.
    public var keepAlive = 5.0
    /// The largest `n` a request may ask for (each choice is a run of the pipeline).
    public var maxN = 1
    /// The largest request body, in bytes.
    public var maxBodyBytes = 4 << 20
    /// Seconds a connection may sit without a request (or with a request head still incomplete) before it is closed.
    public var idleTimeout = 15.0
    /// Seconds a request's body may take to arrive.
    public var bodyTimeout = 30.0
    /// Connections open at once, in all and from one client address: more are closed at once, so idle or slow
    /// clients cannot use up the descriptors authenticated ones need.
    public var maxConnections = 512
    /// Connections one client address may hold open.
    public var maxConnectionsPerAddress = 64
    /// A JSONL file with one line per request (no prompts or answers unless `logsContent`).
    public var requestLog: String?
    /// Whether the request log includes prompts and answers (off: sizes only).
    public var logsContent = false
    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT before they are cancelled.
    public var shutdownGrace = 30.0
    /// The clock the request, queue and body timeouts and the keep-alives are measured on.
    public var clock: any Clock<Duration> = ContinuousClock()
    /// With `--otel`: each request becomes a server span, the child of the `traceparent` it came with, and its
    /// pipeline's spans the children of that.
    package var tracer: (any Tracer)?

    /// The defaults: 127.0.0.1:8000, no keys.
    public init() {}

    /// Whether `host` is a loopback address, where serving without keys is safe.
    public var isLoopback: Bool { KeyDestination.isLoopback(host.lowercased()) }

    /// The request timeout for a pipeline with this latency budget.
    func timeout(latencyBudget: Double?) -> Double {
        requestTimeout ?? max(2 * (latencyBudget ?? 0), 60)
    }
}
