import AsyncHTTPClient
import Foundation
import StrataCache
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSandbox
import StrataSyntax

/// Settings of a runtime.
public struct RuntimeOptions: Sendable {
    public var cache: ResponseCache
    public var trace: TraceWriter?
    public var retry: RetryPolicy
    public var timeouts: Timeouts
    /// Providers by model name, replacing the HTTP clients for those models.
    public var providers: [String: any ChatProvider]
    public var environment: [String: String]
    /// Retries of a reply that cannot be parsed (critique, verdict), each with a new seed.
    public var malformedRetries: Int
    /// Whether each query's calls are kept as `RunResult.timeline`.
    public var recordTimeline: Bool

    public init(cache: ResponseCache = .disabled, trace: TraceWriter? = nil, retry: RetryPolicy = .default, timeouts: Timeouts = Timeouts(),
                providers: [String: any ChatProvider] = [:], environment: [String: String] = ProcessInfo.processInfo.environment,
                malformedRetries: Int = 2, recordTimeline: Bool = false) {
        self.cache = cache
        self.trace = trace
        self.retry = retry
        self.timeouts = timeouts
        self.providers = providers
        self.environment = environment
        self.malformedRetries = malformedRetries
        self.recordTimeline = recordTimeline
    }
}

/// Runs a checked pipeline on queries as its compiled execution graph: every
/// node starts as soon as its inputs are ready, within each model's limits; many queries share one runtime (and so
/// one scheduler and one set of limits). Failed calls drop one candidate and
/// are recorded; a query fails, with its reason, only when a layer is left
/// with nothing to work on.
///
/// ```swift
/// let runtime = try PipelineRuntime(compiled: compiled)
/// let result = await runtime.run(Query(prompt: "What is 17 × 23?"))
/// print(result.answer ?? result.failure ?? "")
/// try await runtime.shutdown()
/// ```
public final class PipelineRuntime: Sendable {
    public let pipeline: CheckedPipeline
    let options: RuntimeOptions
    let providers: [any ChatProvider]
    let scheduler: CallScheduler
    let client: HTTPClient?
    let plan: GraphPlan
    private let state = RuntimeState()

    /// A runtime for a compiled pipeline: queries run its graph.
    public convenience init(compiled: CompiledPipeline, options: RuntimeOptions = RuntimeOptions()) throws {
        try self.init(pipeline: compiled.pipeline, graph: compiled.graph, options: options)
    }

    /// A runtime for a checked pipeline, compiling its graph.
    public convenience init(pipeline: CheckedPipeline, options: RuntimeOptions = RuntimeOptions()) throws {
        try self.init(pipeline: pipeline, graph: GraphBuilder.build(pipeline), options: options)
    }

    init(pipeline: CheckedPipeline, graph: ExecutionGraph, options: RuntimeOptions) throws {
        self.pipeline = pipeline
        self.options = options
        plan = GraphPlan(pipeline: pipeline, graph: graph)
        let needsHTTP = pipeline.models.contains { options.providers[$0.name] == nil }
        let client = needsHTTP ? HTTPChatProvider.makeClient(timeouts: options.timeouts) : nil
        self.client = client
        providers = pipeline.models.map { model in
            options.providers[model.name]
                ?? HTTPChatProvider(model: model, client: client!, retry: options.retry, timeouts: options.timeouts, environment: options.environment)
        }
        scheduler = CallScheduler(limits: pipeline.models.map {
            ModelLimits(maxInFlight: $0.maxInFlight, requestsPerMinute: $0.requestsPerMinute, tokensPerMinute: $0.tokensPerMinute)
        })
    }

    /// Closes the HTTP connections. Call when no query is running; a runtime
    /// dropped without it closes them in the background instead.
    public func shutdown() async throws {
        if state.markShutDown() { try await client?.shutdown() }
        options.trace?.flush()
    }

    deinit {
        if state.markShutDown() { client?.shutdown { _ in } }
    }

    /// The most calls that were in flight at once for the named model.
    public func peakInFlight(model name: String) -> Int {
        pipeline.models.firstIndex { $0.name == name }.map { scheduler.peakInFlight(model: $0) } ?? 0
    }

    /// Answers one query by running the pipeline's execution graph: each node
    /// starts when its inputs are ready. `id` names it in the trace; `onDelta`
    /// receives the final layer's text as it streams (when that layer makes
    /// one call); `onLayer` hears each layer's report as its pool is complete.
    public func run(_ query: Query, id: String? = nil, onDelta: (@Sendable (String) -> Void)? = nil,
                    onLayer: (@Sendable (LayerReport) -> Void)? = nil) async -> RunResult {
        let queryID = id ?? "q\(state.nextQuery())"
        return await QueryRun(runtime: self, query: query, id: queryID, onDelta: onDelta, onLayer: onLayer).drive()
    }

    /// The execution graph every query runs.
    public var graph: ExecutionGraph { plan.graph }
}

/// Why a query stopped.
struct QueryFailure: Error {
    var reason: String
}

/// Query ids, and whether the HTTP client was shut down: the runtime's only mutable state outside the scheduler.
final class RuntimeState: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    private var shutDown = false
    func nextQuery() -> Int { lock.withLock { value += 1; return value } }
    /// True the first time only.
    func markShutDown() -> Bool { lock.withLock { defer { shutDown = true }; return !shutDown } }
}

/// The calls, usage and notes of one layer of one query.
final class LayerContext: @unchecked Sendable {
    let runtime: PipelineRuntime
    let layer: CheckedLayer
    let query: String
    private let lock = NSLock()
    private var _usage = RunUsage()
    private var _notes: [String] = []
    private var _fallbacks: [String] = []
    private var _spans: [CallSpan] = []
    /// Where the query's time starts, for call spans.
    let origin: Date

    init(runtime: PipelineRuntime, layer: CheckedLayer, query: String, origin: Date) {
        self.runtime = runtime
        self.layer = layer
        self.query = query
        self.origin = origin
    }

    /// The layer's calls in time, when the runtime records a timeline.
    var spans: [CallSpan] { lock.withLock { _spans } }

    /// A finished call: its line in the trace and, when the runtime keeps a timeline, its span.
    private func record(_ event: TraceEvent, start: Date) {
        runtime.options.trace?.write(event)
        guard runtime.options.recordTimeline, let model = event.model else { return }
        let span = CallSpan(layer: layer.index, operation: event.operation, model: model, sample: event.sample, candidate: event.candidate,
                            start: start.timeIntervalSince(origin), end: Date().timeIntervalSince(origin), cacheHit: event.cacheHit,
                            error: event.error)
        lock.withLock { _spans.append(span) }
    }

    var usage: RunUsage { lock.withLock { _usage } }
    var notes: [String] { lock.withLock { _notes } }
    /// Fallbacks taken: notes the run result carries as notices.
    var fallbacks: [String] { lock.withLock { _fallbacks } }

    func fallback(_ text: String) {
        lock.withLock { _fallbacks.append(text) }
        note(text)
    }

    func note(_ text: String) {
        lock.withLock { _notes.append(text) }
        runtime.options.trace?.write(TraceEvent(query: query, layer: layer.index, operation: "note", note: text))
    }

    /// One model call through the cache and the scheduler. Returns the reply's
    /// text, or the error (recorded in usage and trace).
    func call(_ operation: String, entry: CheckedEntry, messages: [ChatMessage], sample: Int?, candidate: Int?,
              seedOffset: Int = 0, maxTokens: Int? = nil, schema: ResponseSchema? = nil,
              onDelta: (@Sendable (String) -> Void)? = nil) async -> Result<String, ProviderError> {
        await reply(operation, entry: entry, messages: messages, sample: sample, candidate: candidate, seedOffset: seedOffset,
                    maxTokens: maxTokens, schema: schema, onDelta: onDelta).map(\.text)
    }

    /// Seed offsets of the retries of a malformed reply: far from the sample
    /// indices and from the parse retries' offsets, so every retry is a new request.
    static let malformedRetryStride = 7_919

    /// One model call, as `call`, with whether the reply stopped at `max_tokens`.
    /// A malformed reply (empty, unreadable) is asked again with a fresh seed —
    /// and, at temperature 0, a little temperature, since greedy decoding
    /// ignores the seed — up to `malformedRetries` times, each retry recorded.
    func reply(_ operation: String, entry: CheckedEntry, messages: [ChatMessage], sample: Int?, candidate: Int?,
               seedOffset: Int = 0, maxTokens: Int? = nil, schema: ResponseSchema? = nil,
               onDelta: (@Sendable (String) -> Void)? = nil) async -> Result<CallReply, ProviderError> {
        let retries = runtime.options.malformedRetries
        var attempt = 0
        while true {
            let result = await attemptCall(operation, entry: entry, messages: messages, sample: sample, candidate: candidate,
                                           seedOffset: seedOffset + attempt * Self.malformedRetryStride,
                                           retryTemperature: attempt > 0, maxTokens: maxTokens, schema: schema, onDelta: onDelta)
            guard case .failure(.malformedResponse(let problem)) = result, attempt < retries, !Task.isCancelled else { return result }
            attempt += 1
            let name = runtime.pipeline.models[entry.model].name
            note("\(operation) \(name)\(sample.map { "#\($0)" } ?? ""): malformed reply (\(problem)); asking again with a fresh seed (retry \(attempt) of \(retries))")
        }
    }

    private func attemptCall(_ operation: String, entry: CheckedEntry, messages: [ChatMessage], sample: Int?, candidate: Int?,
                             seedOffset: Int, retryTemperature: Bool, maxTokens: Int?, schema: ResponseSchema?,
                             onDelta: (@Sendable (String) -> Void)?) async -> Result<CallReply, ProviderError> {
        let model = runtime.pipeline.models[entry.model]
        let seed = model.supportsSeed ? entry.sampling.seed + (sample ?? 0) + seedOffset : nil
        let temperature = retryTemperature ? max(entry.sampling.temperature, 0.5) : entry.sampling.temperature
        let request = ChatRequest(model: model.modelID, messages: messages, temperature: temperature,
                                  topP: entry.sampling.topP, maxTokens: maxTokens ?? entry.sampling.maxTokens, seed: seed, schema: schema)
        let cache = runtime.options.cache
        let cacheKey = cache.isEnabled
            ? ResponseCache.key(endpoint: "\(model.provider.rawValue) \(model.baseURL)", request: request, sample: (sample ?? 0) + seedOffset)
            : ""
        var event = TraceEvent(query: query, layer: layer.index, operation: operation, model: model.name, sample: sample,
                               seed: seed, candidate: candidate)
        let start = Date()
        if cache.isEnabled, let cached = cache.lookup(cacheKey), let text = cached.texts.first,
           !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            event.cacheHit = true
            event.inputTokens = cached.usage.inputTokens
            event.outputTokens = cached.usage.outputTokens
            lock.withLock { _usage.cacheHits += 1 }
            record(event, start: start)
            onDelta?(text)
            return .success(CallReply(text: text, truncated: CallReply.stoppedAtLimit(cached.finishReason)))
        }
        let estimate = messages.reduce(0) { $0 + $1.content.utf8.count / 4 } + request.maxTokens
        let provider = runtime.providers[entry.model]
        do {
            let reply = try await runtime.scheduler.withPermit(model: entry.model, tokens: estimate) {
                try await provider.complete(request, onDelta: onDelta)
            }
            guard let text = reply.response.texts.first else { throw ProviderError.malformedResponse("no text") }
            if cache.isEnabled { cache.store(reply.response, for: cacheKey) }
            let usd = model.usd(input: reply.response.usage.inputTokens, output: reply.response.usage.outputTokens)
            event.inputTokens = reply.response.usage.inputTokens
            event.outputTokens = reply.response.usage.outputTokens
            event.usd = usd
            event.attempts = reply.record.attempts
            event.seconds = Date().timeIntervalSince(start)
            lock.withLock {
                _usage.calls += 1
                _usage.retries += max(0, reply.record.attempts - 1)
                _usage.inputTokens += reply.response.usage.inputTokens
                _usage.outputTokens += reply.response.usage.outputTokens
                _usage.usd += usd
            }
            record(event, start: start)
            return .success(CallReply(text: text, truncated: CallReply.stoppedAtLimit(reply.response.finishReason)))
        } catch {
            let failure: ProviderError = (error as? ProviderError) ?? (error is CancellationError ? .cancelled : .network(String(describing: error)))
            event.error = failure.description
            event.seconds = Date().timeIntervalSince(start)
            lock.withLock {
                _usage.calls += 1
                _usage.failedCalls += 1
            }
            record(event, start: start)
            return .failure(failure)
        }
    }
}

/// A model's reply as the layers use it.
struct CallReply: Sendable {
    var text: String
    /// The model stopped at `max_tokens` (OpenAI `length`, Anthropic `max_tokens`).
    var truncated: Bool

    static func stoppedAtLimit(_ finishReason: String?) -> Bool {
        finishReason == "length" || finishReason == "max_tokens"
    }
}
