import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import StrataChecker
import StrataEval
import StrataProviders

/// Where and how the studio listens.
package struct StudioOptions: Sendable {
    package var host = "127.0.0.1"
    package var port = 8600
    /// Keys a client must present (a bearer header, or once as `?key=` for a browser, which then keeps a cookie).
    package var apiKeys: [String] = []
    /// Listen on a non-loopback host without keys.
    package var allowsNoAuth = false
    /// How often a live view looks for new trials.
    package var pollInterval: Duration = .milliseconds(500)

    package init() {}

    package var isLoopback: Bool { KeyDestination.isLoopback(host.lowercased()) }
}

/// Why the studio will not start.
package struct StudioSetupError: Error, CustomStringConvertible {
    package var description: String
}

/// `strata studio`: a read-only web app over a study store and a run store.
/// Every asset is served from the binary; nothing is fetched from elsewhere.
package struct StudioServer: Sendable {
    let source: StudioSource
    let options: StudioOptions

    package init(source: StudioSource, options: StudioOptions) throws {
        if !options.isLoopback, options.apiKeys.isEmpty, !options.allowsNoAuth {
            throw StudioSetupError(
                description:
                    "refusing to serve the studio on \(options.host) without API keys: anyone who can reach it could read your studies and runs; name keys with --api-key-env, or pass --insecure-no-auth"
            )
        }
        self.source = source
        self.options = options
    }

    /// Runs until the task is cancelled; `onListening` hears the port once it accepts connections.
    package func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let source = source
        Task { await source.warm() }
        var logger = Logger(label: "strata.studio")
        logger.logLevel = .critical
        let app = Application(
            router: router(),
            configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port), serverName: "strata-studio"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService(gracefulShutdownSignals: [])
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: StudioAuthMiddleware(keys: options.apiKeys))
        let source = source, poll = options.pollInterval
        router.get("/") { _, _ in Self.asset(StudioAssets.page, type: "text/html; charset=utf-8") }
        router.get("/studio.js") { _, _ in Self.asset(StudioAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/studio.css") { _, _ in Self.asset(StudioAssets.style, type: "text/css; charset=utf-8") }
        router.get("/health") { _, _ in Self.json(["status": "ok"]) }
        router.get("/api/overview") { _, _ in
            Self.json(Overview(studyStore: source.studyPath, runStore: source.runPath, studies: try await source.studyList(), runs: try await source.runList()))
        }
        router.get("/api/studies/{id}") { _, context in
            let id = try context.parameters.require("id")
            guard let study = try await source.study(id) else { throw HTTPError(.notFound, message: "no study \(id)") }
            return Self.json(body: StudyView(study: study, trials: try await source.trials(study: id)).json)
        }
        router.get("/api/studies/{id}/trials/{number}") { _, context in
            let id = try context.parameters.require("id"), number = try context.parameters.require("number", as: Int.self)
            guard let trial = try await source.trials(study: id).first(where: { $0.number == number }) else {
                throw HTTPError(.notFound, message: "no trial \(number) in study \(id)")
            }
            return Self.json(TrialDetail(trial))
        }
        router.get("/api/studies/{id}/events") { request, context in
            let id = try context.parameters.require("id")
            guard try await source.study(id) != nil else { throw HTTPError(.notFound, message: "no study \(id)") }
            // The page says when the last trial it has finished: only what finished later is news.
            let since = request.uri.queryParameters.get("since").flatMap(Double.init) ?? Date().timeIntervalSince1970
            return StudyEvents(source: source, study: id, since: since, interval: poll).response()
        }
        router.get("/api/runs/{id}") { _, context in
            let id = try context.parameters.require("id")
            guard let run = try await source.run(id) else { throw HTTPError(.notFound, message: "no run \(id)") }
            return Self.json(RunView(run: run, items: try await source.items(run: id), coverage: try await source.coverage(run: id)))
        }
        router.get("/api/runs/{id}/items/{item}") { _, context in
            let id = try context.parameters.require("id"), itemID = try context.parameters.require("item")
            guard let item = try await source.items(run: id).first(where: { $0.itemID == itemID }) else {
                throw HTTPError(.notFound, message: "no item \(itemID) in run \(id)")
            }
            return Self.json(ItemView(run: id, item: item))
        }
        router.get("/api/compare") { request, _ in
            guard let a = request.uri.queryParameters.get("a"), let b = request.uri.queryParameters.get("b") else {
                throw HTTPError(.badRequest, message: "name two runs: /api/compare?a=RUN&b=RUN")
            }
            guard let runA = try await source.run(a), let runB = try await source.run(b) else { throw HTTPError(.notFound, message: "no such run") }
            return Self.json(ComparisonView(a: runA, itemsA: try await source.items(run: a), b: runB, itemsB: try await source.items(run: b)))
        }
        return router
    }

    struct Overview: Encodable {
        var studyStore: String?
        var runStore: String?
        var studies: [StudySummary]
        var runs: [RunSummary]
    }

    static func asset(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        // Only the studio's own files, no inline script: a model's text shown on a page can never run.
        headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(body: JSONBody) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body.bytes)))
    }

    static func json(_ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A study's live view: server-sent events, one `trials` event for each batch
/// of trials that finished since the last (with the importance recomputed),
/// and a comment every 15 s so proxies keep the connection.
struct StudyEvents: Sendable {
    let source: StudioSource
    let study: String
    /// Trials that finished at or before this (seconds since 1970) are the page's already.
    let since: Double
    let interval: Duration

    func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { [source, study, since, interval] writer in
                var lastFinished = since, quiet = Duration.zero
                try await writer.write(ByteBuffer(string: ": strata studio\n\n"))
                while !Task.isCancelled {
                    let fresh = try await source.trials(study: study, finishedAfter: lastFinished)
                    if !fresh.isEmpty {
                        lastFinished = fresh.map(\.finishedAt.timeIntervalSince1970).max() ?? lastFinished
                        if let summary = try await source.study(study) {
                            // Only the importance needs every trial; the page gets just the new ones.
                            let importance = StudyView.importance(of: try await source.trials(study: study))
                            let update: JSONBody = [
                                "study": StudioJSON.raw(summary), "trials": .array(fresh.map { TrialView($0).json }),
                                "importance": StudioJSON.raw(importance),
                            ]
                            try await writer.write(ByteBuffer(string: "event: trials\ndata: \(update.text)\n\n"))
                        }
                        quiet = .zero
                    } else if quiet >= .seconds(15) {
                        try await writer.write(ByteBuffer(string: ": waiting\n\n"))
                        quiet = .zero
                    }
                    try await Task.sleep(for: interval)
                    quiet += interval
                }
                try await writer.finish(nil)
            })
    }

}

/// With keys: a request needs `Authorization: Bearer KEY` or the cookie a
/// browser got by opening `/?key=KEY` once (the key then leaves the address bar).
struct StudioAuthMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let keys: [String]
    static let cookie = "strata_studio_key"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !keys.isEmpty else { return try await next(request, context) }
        if let offered = request.uri.queryParameters.get("key"), matches(offered) {
            var headers = HTTPFields()
            headers[.location] = request.uri.path
            headers[.setCookie] = "\(Self.cookie)=\(offered); Path=/; HttpOnly; SameSite=Strict"
            return Response(status: .seeOther, headers: headers)
        }
        let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        let cookie = request.headers[values: .cookie].flatMap { $0.split(separator: ";") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix("\(Self.cookie)=") }
            .map { String($0.dropFirst(Self.cookie.count + 1)) }
        guard let presented = bearer ?? cookie, matches(presented) else {
            throw HTTPError(.unauthorized, message: "this studio needs a key: open /?key=KEY once, or send Authorization: Bearer KEY")
        }
        return try await next(request, context)
    }

    /// Compared in time independent of where they differ.
    func matches(_ presented: String) -> Bool {
        let offered = Array(presented.utf8)
        return keys.contains { key in
            let expected = Array(key.utf8)
            return expected.count == offered.count && zip(expected, offered).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }
}
