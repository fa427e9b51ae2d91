import ArgumentParser
import Foundation
import Strata
import StrataServe

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve pipelines as OpenAI-compatible models over HTTP.",
        discussion: """
            Each pipeline is a model named by its `name:`: point any OpenAI client at http://HOST:PORT/v1 and ask \
            for that model. POST /v1/chat/completions (streamed or not), GET /v1/models, /health, /version, /metrics. \
            Usage counts every model call the pipeline made; a client that disconnects cancels its calls. \
            Every model's limits hold across all pipelines and requests. SIGTERM or Ctrl-C: new requests get 503, \
            requests in flight get --shutdown-grace seconds to finish.
            """
    )

    @Argument(help: "The pipeline files to serve.")
    var pipelines: [String]

    @Option(help: "The address to listen on (loopback unless you say otherwise).")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port = 8000

    @Option(help: "An environment variable holding the API keys clients must send (comma-separated).")
    var apiKeyEnv: String?

    @Flag(help: "Serve a non-loopback host without keys.")
    var insecureNoAuth = false

    @Option(name: .customLong("alias"), help: ArgumentHelp("Another model name for a pipeline.", valueName: "NAME=PIPELINE"))
    var aliases: [String] = []

    @Option(help: "Requests running at once; more wait in a queue.")
    var maxConcurrent = 64

    @Option(help: "Requests waiting for a slot; more get 429 with Retry-After.")
    var maxQueue = 256

    @Option(help: "Seconds a request may wait in the queue before it gets 429.")
    var queueTimeout = 30.0

    @Option(help: "Seconds a request may run before it gets 504 and its calls are cancelled (default: twice the latency budget, at least 60).")
    var requestTimeout: Double?

    @Option(help: "Seconds between keep-alive comments in a stream while earlier layers run.")
    var keepalive = 5.0

    @Option(help: "The largest `n` a request may ask for (each choice runs the pipeline).")
    var maxN = 1

    @Option(help: "The largest request body, in bytes.")
    var maxBody = 4 << 20

    @Option(help: "Append one JSON line per request to this file (no prompts or answers unless --log-content).")
    var requestLog: String?

    @Flag(help: "Put prompts and answers in the request log.")
    var logContent = false

    @Option(help: "Seconds requests in flight get to finish after SIGTERM or Ctrl-C.")
    var shutdownGrace = 30.0

    @OptionGroup var telemetry: TelemetryOptions
    @OptionGroup var cacheOptions: CacheOptions
    @OptionGroup var includes: IncludeOptions

    @Option(help: "Write one JSON line per model call and step to this file.")
    var trace: String?

    func validate() throws {
        if pipelines.isEmpty { throw ValidationError("give at least one pipeline file") }
        if maxConcurrent < 1 { throw ValidationError("--max-concurrent must be at least 1") }
        if maxN < 1 { throw ValidationError("--max-n must be at least 1") }
        for alias in aliases where alias.split(separator: "=").count != 2 {
            throw ValidationError("--alias \(alias): write NAME=PIPELINE")
        }
    }

    func run() async throws {
        let telemetry = try self.telemetry.start()
        let runtimeOptions = RuntimeOptions(
            cache: try cacheOptions.open(), trace: try trace.map { try TraceWriter(path: $0) }, observer: telemetry?.observer,
            scheduler: CallScheduler())
        let served = try pipelines.map { try load($0, options: runtimeOptions) }
        let server: StrataServer
        do {
            var options = try serveOptions()
            options.tracer = telemetry?.observer.tracer
            server = try StrataServer(pipelines: served, options: options)
        } catch {
            writeError("error: \(error)")
            throw ExitCode(1)
        }
        let names = served.map(\.name).joined(separator: ", ")
        let shownHost = host.contains(":") ? "[\(host)]" : host
        try await server.run { port in
            writeError("strata serve: \(names) on http://\(shownHost):\(port)/v1 (Ctrl-C stops)")
        }
        for pipeline in served { try await pipeline.runtime.shutdown() }
        await telemetry?.shutdown()
        writeError("strata serve: stopped")
    }

    /// The server's options from the command line.
    func serveOptions() throws -> ServeOptions {
        var options = ServeOptions()
        options.host = host
        options.port = port
        options.apiKeys = try keys()
        options.allowsNoAuth = insecureNoAuth
        options.aliases = Dictionary(
            aliases.map { alias in
                let parts = alias.split(separator: "=", maxSplits: 1).map(String.init)
                return (parts[0], parts[1])
            }, uniquingKeysWith: { _, last in last })
        options.maxConcurrent = maxConcurrent
        options.maxQueue = maxQueue
        options.queueTimeout = queueTimeout
        options.requestTimeout = requestTimeout
        options.keepAlive = keepalive
        options.maxN = maxN
        options.maxBodyBytes = maxBody
        options.requestLog = requestLog
        options.logsContent = logContent
        options.shutdownGrace = shutdownGrace
        return options
    }

    /// Compiles a pipeline (its diagnostics printed; errors stop the server before it starts) and makes its runtime.
    func load(_ path: String, options: RuntimeOptions) throws -> ServedPipeline {
        let loaded = try EvalCommand.compiled(path, as: "served", compiler: includes.compiler)
        let runtime = try PipelineRuntime(compiled: loaded.compiled, options: options)
        return ServedPipeline(
            // A pipeline without a `name:` is served under its file's name.
            name: loaded.compiled.pipeline.name ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent, runtime: runtime,
            fingerprint: PipelineIdentity.of(loaded.sources, main: path))
    }

    /// The keys from `--api-key-env`: never printed.
    func keys() throws -> [String] { try Self.keys(from: apiKeyEnv) }

    /// The comma-separated keys in `variable` (none without one); an unset or empty variable is an error.
    static func keys(from variable: String?) throws -> [String] {
        guard let variable else { return [] }
        let keys = (ProcessInfo.processInfo.environment[variable] ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        if keys.isEmpty {
            writeError("error: --api-key-env \(variable): the variable is unset or empty; set it to one or more comma-separated keys")
            throw ExitCode(1)
        }
        return keys
    }
}
