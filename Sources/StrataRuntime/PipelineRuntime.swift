import AsyncHTTPClient
import Foundation
import StrataCache
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSandbox
import StrataSyntax
import Synchronization

/// Settings of a runtime.
public struct RuntimeOptions: Sendable {
    /// The response cache.
    public var cache: ResponseCache
    /// Where each call's trace event is written, if anywhere.
    public var trace: TraceWriter?
    /// How failed calls are retried.
    public var retry: RetryPolicy
    /// How long a call may take.
    public var timeouts: Timeouts
    /// Providers by model name, replacing the HTTP clients for those models.
    public var providers: [String: any ChatProvider]
    /// Where API keys are read from (the process environment by default).
    public var environment: [String: String]
    /// Retries of a reply that cannot be parsed (critique, verdict), each with a new seed.
    public var malformedRetries: Int
    /// Whether each query's calls are kept as `RunResult.timeline`.
    public var recordTimeline: Bool
    /// Hears of every query once it has finished, with its calls in time (an OpenTelemetry export).
    public var observer: (any QueryObserver)?
    /// A scheduler shared with other runtimes, so a model's limits hold across
    /// every pipeline that calls it (nil: the runtime has its own).
    package var scheduler: CallScheduler?
    /// The clock the query's latency budget (`budget.latency_s`), the models' rate limits and the waits between retries are measured on.
    public var clock: any Clock<Duration>

    /// Options; the defaults run without a cache or trace.
    public init(
        cache: ResponseCache = .disabled, trace: TraceWriter? = nil, retry: RetryPolicy = .default, timeouts: Timeouts = Timeouts(),
        providers: [String: any ChatProvider] = [:], environment: [String: String] = ProcessInfo.processInfo.environment,
        malformedRetries: Int = 2, recordTimeline: Bool = false, observer: (any QueryObserver)? = nil, scheduler: CallScheduler? = nil,
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.observer = observer
        self.scheduler = scheduler
        self.clock = clock
        self.cache = cache
        self.trace = trace
        self.retry = retry
        self.timeouts = timeouts
        self.providers = providers
        self.environment = environment
        self.malformedRetries = malformedRetries
        self.recordTimeline = recordTimeline
    }

    /// Whether calls are kept in time: for the timeline, or for the observer.
    var recordsCalls: Bool { recordTimeline || observer != nil }
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
    /// What every query runs: the compiled graph, its models and its layers' parameters.
    public var graph: ExecutionGraph { plan.graph }
    let options: RuntimeOptions
    let providers: [any ChatProvider]
    let scheduler: CallScheduler
    /// Each model's slot in the scheduler.
    let schedulerSlots: [Int]
    let client: HTTPClient?
    let plan: GraphPlan
    /// Each route layer's branches (by the layer's position), each a runtime of
    /// its own sharing this one's providers, scheduler, cache and trace.
    let branches: [Int: [(name: String, runtime: PipelineRuntime)]]
    private let state = RuntimeState()

    /// A runtime for a compiled pipeline: queries run its graph.
    public convenience init(compiled: CompiledPipeline, options: RuntimeOptions = RuntimeOptions()) throws {
        try self.init(graph: compiled.graph, options: options)
    }

    /// A runtime for a checked pipeline, compiling its graph.
    package convenience init(pipeline: CheckedPipeline, options: RuntimeOptions = RuntimeOptions()) throws {
        try self.init(graph: GraphBuilder.build(pipeline), options: options)
    }

    /// A runtime for an execution graph: all it needs to run queries.
    public init(graph: ExecutionGraph, options: RuntimeOptions = RuntimeOptions()) throws {
        self.options = options
        plan = GraphPlan(graph: graph)
        let needsHTTP = graph.models.contains { options.providers[$0.name] == nil }
        let client = needsHTTP ? HTTPChatProvider.makeClient(timeouts: options.timeouts) : nil
        self.client = client
        providers = graph.models.map { model in
            options.providers[model.name]
                ?? HTTPChatProvider(
                    endpoint: model.endpoint, client: client!, retry: options.retry, timeouts: options.timeouts,
                    environment: options.environment, clock: options.clock)
        }
        let limits = graph.models.map {
            ModelLimits(maxInFlight: $0.maxInFlight, requestsPerMinute: $0.requestsPerMinute, tokensPerMinute: $0.tokensPerMinute)
        }
        if let shared = options.scheduler {
            scheduler = shared
            schedulerSlots = zip(graph.models, limits).map { shared.slot(for: $0.identity, limits: $1) }
        } else {
            scheduler = CallScheduler(limits: limits, clock: options.clock)
            schedulerSlots = Array(limits.indices)
        }
        var branchOptions = options
        branchOptions.scheduler = scheduler
        // A branch's query is part of the route's: only the top-level query is observed.
        branchOptions.observer = nil
        branchOptions.providers = Dictionary(zip(graph.models.map(\.name), providers), uniquingKeysWith: { first, _ in first })
        var branches: [Int: [(name: String, runtime: PipelineRuntime)]] = [:]
        for (position, layer) in graph.layers.enumerated() {
            guard let routes = graph.routes[layer.index] else { continue }
            branches[position] = try routes.map { ($0.name, try PipelineRuntime(graph: $0.graph, options: branchOptions)) }
        }
        self.branches = branches
    }

    /// Closes the HTTP connections. Call when no query is running; a runtime
    /// dropped without it closes them in the background instead.
    public func shutdown() async throws {
        if state.markShutDown() { try await client?.shutdown() }
        try options.trace?.flush()
    }

    deinit {
        if state.markShutDown() { client?.shutdown { _ in } }
    }

    /// The most calls that were in flight at once for the named model.
    public func peakInFlight(model name: String) -> Int {
        graph.models.firstIndex { $0.name == name }.map { scheduler.peakInFlight(model: schedulerSlots[$0]) } ?? 0
    }

    /// Answers one query by running the pipeline's execution graph: each node
    /// starts when its inputs are ready. `id` names it in the trace; `onDelta`
    /// receives the final layer's text as it streams (when that layer makes
    /// one call); `onLayer` hears each layer's report as its pool is complete.
    public func run(
        _ query: Query, id: String? = nil, onDelta: (@Sendable (String) -> Void)? = nil,
        onLayer: (@Sendable (LayerReport) -> Void)? = nil
    ) async -> RunResult {
        let queryID = id ?? "q\(state.nextQuery())"
        guard let observer = options.observer else {
            return await QueryRun(runtime: self, query: query, id: queryID, onDelta: onDelta, onLayer: onLayer).drive()
        }
        // Asked in the caller's task, where its trace context is.
        let token = observer.queryStarting(id: queryID)
        let started = Date()
        let result = await QueryRun(runtime: self, query: query, id: queryID, onDelta: onDelta, onLayer: onLayer).drive()
        observer.queryFinished(
            FinishedQuery(id: queryID, pipeline: graph.pipeline, query: query, started: started, ended: Date(), result: result), token: token)
        return result
    }

    /// Whether `run(onDelta:)` streams the answer's text as it is written: the
    /// final layer generates with one call. Otherwise (it selects, or makes
    /// several calls) the answer arrives as one delta at the end.
    public var streamsTokens: Bool {
        guard let last = graph.layers.last, last.kind == .ensemble || last.kind == .fuse else { return false }
        return plan.callCounts[graph.layers.count - 1] == 1
    }
}

/// Why a query stopped.
struct QueryFailure: Error {
    var reason: String
}

/// Query ids, and whether the HTTP client was shut down: the runtime's only mutable state outside the scheduler.
final class RuntimeState: Sendable {
    private struct State {
        var queries = 0
        var shutDown = false
    }
    private let state = Mutex(State())

    func nextQuery() -> Int {
        state.withLock {
            $0.queries += 1
            return $0.queries
        }
    }

    /// True the first time only.
    func markShutDown() -> Bool {
        state.withLock { state in
            defer { state.shutDown = true }
            return !state.shutDown
        }
    }
}

extension ResolvedModel {
    /// The same model, wherever a pipeline declares it: where its requests go and under which id.
    var identity: String { "\(provider.rawValue) \(baseURL) \(modelID)" }

    /// Where the model's requests go. Keys are read only from variables the
    /// checker allows for this destination: it refuses the others, and a model
    /// built in code is held to the same rule here.
    var endpoint: Endpoint {
        Endpoint(
            api: provider == .anthropic ? .anthropic : .openAI, baseURL: baseURL,
            keyVariables: apiKeyEnv.filter { KeyDestination.refusal(variable: $0, baseURL: baseURL) == nil },
            requiresKey: provider != .openaiCompatible)
    }
}
