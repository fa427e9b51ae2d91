import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import StrataRuntime

/// Serves pipelines as OpenAI-compatible models: `POST /v1/chat/completions`
/// (streamed and not), `GET /v1/models`, `GET /v1/models/{id}`, `GET /health`,
/// `GET /version` and `GET /metrics`.
///
/// ```swift
/// let server = try StrataServer(pipelines: [served], options: options)
/// try await server.run { port in print("listening on \(port)") }
/// ```
///
/// `run` returns after SIGTERM or SIGINT: from then on `/health` answers 503
/// and new requests are refused with 503, requests in flight get
/// `ServeOptions.shutdownGrace` seconds to finish, and then the rest are cancelled.
/// Cancelling the task that runs it stops the server at once.
public struct StrataServer: Sendable {
    let state: ServerState

    /// A server for `pipelines`; refuses to bind a non-loopback host without keys unless told to.
    public init(pipelines: [ServedPipeline], options: ServeOptions) throws {
        if !options.isLoopback, options.apiKeys.isEmpty, !options.allowsNoAuth {
            throw ServeSetupError.publicWithoutKeys(host: options.host)
        }
        state = try ServerState(options: options, catalog: PipelineCatalog(pipelines, aliases: options.aliases))
    }

    /// Runs until shut down; `onListening` hears the port once the server accepts connections.
    public func run(signals: Bool = true, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        // Hummingbird logs a cancelled connection as an error on every stop; what an
        // operator needs is in the request log, metrics and thrown errors instead.
        var logger = Logger(label: "strata.serve")
        logger.logLevel = .critical
        let app = Application(
            responder: OpenAIErrorResponder(inner: router().buildResponder()),
            server: .http1(
                configuration: HTTP1Channel.Configuration(
                    additionalChannelHandlers: [ConnectionLimiter(gate: state.connections), ConnectionWatcher()],
                    idleTimeout: .milliseconds(Int64(state.options.idleTimeout * 1000)))),
            configuration: ApplicationConfiguration(address: .hostname(state.options.host, port: state.options.port), serverName: "strata"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        let drain = Drain(state: state)
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: app),
                // Shut down first (groups shut down in reverse): it holds the server open while requests finish.
                .init(service: drain, successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [], logger: logger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(state.options.shutdownGrace * 1000) + 2000)
        try await ServiceGroup(configuration: configuration).run()
        try state.requestLog?.close()
    }

    func router() -> Router<ServeRequestContext> {
        let router = Router(context: ServeRequestContext.self)
        let state = self.state
        router.get("/health") { _, _ -> Response in
            if state.gate.isDraining { throw APIError.shuttingDown }
            return Self.json(["status": "ok"])
        }
        router.get("/version") { _, _ -> Response in
            Self.json([
                "version": StrataVersion.current, "pipelines": Dictionary(uniqueKeysWithValues: state.catalog.pipelines.map { ($0.name, $0.fingerprint) }),
            ])
        }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: state.metrics.text)))
        }
        let v1 = router.group("v1")
        v1.group("models").add(middleware: BearerAuthMiddleware(state: state))
            .get { _, _ -> Response in
                let cards = state.catalog.names.compactMap { name in
                    state.catalog.pipeline(named: name).map { ModelCard(id: name, created: $0.created) }
                }
                return Self.json(encodable: ModelList(data: cards))
            }
            .get("{id}") { _, context -> Response in
                let id = context.parameters.get("id") ?? ""
                guard let pipeline = state.catalog.pipeline(named: id) else { throw state.catalog.unknown(id) }
                return Self.json(encodable: ModelCard(id: id, created: pipeline.created))
            }
        // Accounting outside authentication: a refused key is logged and counted like any other answer.
        v1.group("chat").add(middleware: CompletionAccountingMiddleware(state: state)).add(middleware: BearerAuthMiddleware(state: state))
            .post("completions") { request, context -> Response in
                try await ChatCompletionsEndpoint(server: state).respond(to: request, context: context)
            }
        return router
    }

    static func json(_ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: data)))
    }

    static func json(encodable value: some Encodable) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: ServeJSON.encode(value))))
    }
}

/// Routes that do not exist, and errors nothing else shaped, in OpenAI's
/// error shape (the router answers them with an empty body).
struct OpenAIErrorResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == ServeRequestContext {
    let inner: Inner

    func respond(to request: Request, context: ServeRequestContext) async throws -> Response {
        let response = try await inner.respond(to: request, context: context)
        guard response.status.code >= 400, response.headers[.contentType] == nil else { return response }
        if response.status == .notFound { return APIError.notFound(path: request.uri.path).response(requestID: context.requestID) }
        let error = APIError(
            status: response.status, type: "invalid_request_error", code: nil, param: nil, message: response.status.reasonPhrase)
        return error.response(requestID: context.requestID)
    }
}

/// On graceful shutdown: refuse new requests (503, and `/health` says so),
/// then wait for those in flight. The service group cancels what is still
/// running when the grace period is over.
struct Drain: Service {
    let state: ServerState

    func run() async throws {
        do { try await gracefulShutdown() } catch { return }  // cancelled: the group is stopping at once
        state.gate.drain()
        let deadline = Date().addingTimeInterval(state.options.shutdownGrace)
        while state.gate.load.running > 0, Date() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
    }
}
