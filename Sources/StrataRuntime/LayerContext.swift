import Foundation
import StrataCache
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSyntax
import Synchronization

/// The calls, usage and notes of one layer of one query.
final class LayerContext: Sendable {
    let runtime: PipelineRuntime
    let layer: LayerSpec
    let query: String
    /// The query's `seed`, spread: added to every call's seed and cache key.
    let querySeed: Int
    private struct Record {
        var usage = RunUsage()
        var notes: [String] = []
        var fallbacks: [String] = []
        var spans: [CallSpan] = []
    }
    private let ledger = Mutex(Record())
    /// Where the query's time starts, for call spans.
    let origin: Date

    init(runtime: PipelineRuntime, layer: LayerSpec, query: String, querySeed: Int = 0, origin: Date) {
        self.runtime = runtime
        self.layer = layer
        self.query = query
        self.querySeed = querySeed
        self.origin = origin
    }

    /// The layer's calls in time, when the runtime records a timeline.
    var spans: [CallSpan] { ledger.withLock { $0.spans } }

    /// A finished call: its line in the trace and, when the runtime keeps calls in time (a timeline, or
    /// an observer that exports them), its span.
    func record(_ event: TraceEvent, start: Date, request: ChatRequest? = nil, finishReason: String? = nil) {
        runtime.options.trace?.write(event)
        guard runtime.options.recordsCalls, let model = event.model else { return }
        var span = CallSpan(
            layer: layer.index, operation: event.operation, model: model, sample: event.sample, candidate: event.candidate,
            start: start.timeIntervalSince(origin), end: Date().timeIntervalSince(origin), cacheHit: event.cacheHit,
            error: event.error, confidence: event.confidence?.first??.pathProbability,
            promptCachedTokens: event.cacheHit ? nil : event.promptCachedTokens, inputTokens: event.cacheHit ? nil : event.inputTokens)
        span.outputTokens = event.error == nil ? event.outputTokens : nil
        span.seed = event.seed
        span.finishReason = finishReason
        if let request {
            span.requestModel = request.model
            span.temperature = request.temperature
            span.maxTokens = request.maxTokens
            span.completions = request.n
            span.provider = runtime.graph.models.first { $0.name == model }?.provider.rawValue
        }
        ledger.withLock { $0.spans.append(span) }
    }

    var usage: RunUsage { ledger.withLock { $0.usage } }

    /// Adds to the layer's usage.
    func count(_ update: (inout RunUsage) -> Void) { ledger.withLock { update(&$0.usage) } }
    var notes: [String] { ledger.withLock { $0.notes } }
    /// Fallbacks taken: notes the run result carries as notices.
    var fallbacks: [String] { ledger.withLock { $0.fallbacks } }

    func fallback(_ text: String) {
        ledger.withLock { $0.fallbacks.append(text) }
        note(text)
    }

    func note(_ text: String) {
        ledger.withLock { $0.notes.append(text) }
        traceNote(text)
    }

    /// A note in the trace only, not the layer's report.
    func traceNote(_ text: String) {
        runtime.options.trace?.write(TraceEvent(query: query, layer: layer.index, operation: "note", note: text))
    }

    /// One model call, as the graph's node `spec` says, through the cache and
    /// the scheduler. Returns the reply's text, or the error (recorded in usage and trace).
    func call(
        _ spec: CallSpec, messages: [ChatMessage], candidate: Int?, seedOffset: Int = 0, maxTokens: Int? = nil, schema: ResponseSchema? = nil,
        onDelta: (@Sendable (String) -> Void)? = nil
    ) async -> Result<String, ProviderError> {
        await reply(spec, messages: messages, candidate: candidate, seedOffset: seedOffset, maxTokens: maxTokens, schema: schema, onDelta: onDelta)
            .map(\.text)
    }

    /// A request's prompt tokens as the checker estimates them, for the tokens-per-minute limit.
    static func tokens(of messages: [ChatMessage]) -> Int { messages.reduce(0) { $0 + TokenEstimate.of($1.content) } }

    /// Seed offsets of the retries of a malformed reply: far from the sample
    /// indices and from the parse retries' offsets, so every retry is a new request.
    static let malformedRetryStride = 7_919

    /// One model call, as `call`, with whether the reply stopped at `max_tokens`.
    /// A malformed reply (empty, unreadable) is asked again with a fresh seed —
    /// and, at temperature 0, a little temperature, since greedy decoding
    /// ignores the seed — up to `malformedRetries` times, each retry recorded.
    func reply(
        _ spec: CallSpec, messages: [ChatMessage], candidate: Int?, seedOffset: Int = 0, maxTokens: Int? = nil, schema: ResponseSchema? = nil,
        onDelta: (@Sendable (String) -> Void)? = nil
    ) async -> Result<CallReply, ProviderError> {
        let retries = runtime.options.malformedRetries
        var attempt = 0
        while true {
            let result = await attemptCall(
                spec, messages: messages, candidate: candidate, seedOffset: seedOffset + attempt * Self.malformedRetryStride,
                retryTemperature: attempt > 0, maxTokens: maxTokens, schema: schema, onDelta: onDelta)
            guard case .failure(.malformedResponse(let problem)) = result, attempt < retries, !Task.isCancelled else { return result }
            attempt += 1
            let name = runtime.graph.models[spec.model].name
            note(
                "\(spec.template.rawValue) \(name)\(spec.sample.map { "#\($0)" } ?? ""): malformed reply (\(problem)); asking again with a fresh seed (retry \(attempt) of \(retries))"
            )
        }
    }

    /// The request a call sends: the node's sampling, its seed moved on by
    /// `sampleOffset` (the other samples of a call with several completions),
    /// `seedOffset` (retries) and the query's seed, so every sample is a distinct request.
    func request(
        _ spec: CallSpec, messages: [ChatMessage], sampleOffset: Int = 0, seedOffset: Int = 0, retryTemperature: Bool = false,
        maxTokens: Int? = nil, schema: ResponseSchema? = nil
    ) -> ChatRequest {
        let model = runtime.graph.models[spec.model]
        let seed = model.supportsSeed ? spec.sampling.seed + sampleOffset + seedOffset + querySeed : nil
        let temperature = retryTemperature ? max(spec.sampling.temperature, 0.5) : spec.sampling.temperature
        var request = ChatRequest(
            model: model.modelID, messages: messages, temperature: temperature,
            topP: spec.sampling.topP, maxTokens: maxTokens ?? spec.sampling.maxTokens, seed: seed, schema: schema, logprobs: spec.logprobs)
        if model.prefixCache { request.promptCache = Self.promptCacheHint(messages, provider: model.provider, samples: spec.template == .generate) }
        return request
    }

    /// What a call shares with its siblings: all of an ensemble sample's messages (every sample of the query
    /// sends them), else the leading context message the prompt renderer puts first; nil when nothing is shared.
    static func promptCacheHint(_ messages: [ChatMessage], provider: Provider, samples: Bool) -> PromptCacheHint? {
        let shared = samples ? messages.count : (messages.count > 1 && messages[0].role == .system ? 1 : 0)
        guard shared > 0 else { return nil }
        let style: PromptCacheHint.Style =
            switch provider {
            case .openai: .cacheKey
            case .anthropic: .breakpoint
            case .openaiCompatible: .cachePrompt
            }
        let key = ContentHash.sha256(Data(messages.prefix(shared).map { "\($0.role.rawValue)\n\($0.content)" }.joined(separator: "\u{0}").utf8))
        return PromptCacheHint(style: style, key: String(key.prefix(32)), sharedMessages: shared)
    }

    /// Where a one-completion request's reply is cached (empty when caching is off).
    func cacheKey(_ request: ChatRequest, model index: Int, sample: Int) -> String {
        guard runtime.options.cache.isEnabled else { return "" }
        let model = runtime.graph.models[index]
        // A model without seeds sends the same request for every query seed: the sample index tells them apart.
        return ResponseCache.key(endpoint: "\(model.provider.rawValue) \(model.baseURL)", request: request, sample: sample + querySeed)
    }

    private func attemptCall(
        _ spec: CallSpec, messages: [ChatMessage], candidate: Int?, seedOffset: Int, retryTemperature: Bool, maxTokens: Int?,
        schema: ResponseSchema?, onDelta: (@Sendable (String) -> Void)?
    ) async -> Result<CallReply, ProviderError> {
        let model = runtime.graph.models[spec.model]
        let request = self.request(
            spec, messages: messages, seedOffset: seedOffset, retryTemperature: retryTemperature, maxTokens: maxTokens, schema: schema)
        let seed = request.seed
        let cache = runtime.options.cache
        let cacheKey = self.cacheKey(request, model: spec.model, sample: (spec.sample ?? 0) + seedOffset)
        var event = TraceEvent(
            query: query, layer: layer.index, operation: spec.template.rawValue, model: model.name, sample: spec.sample,
            seed: seed, candidate: candidate)
        let start = Date()
        if cache.isEnabled, let cached = await cache.lookup(cacheKey), let text = cached.texts.first,
            !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        {
            recordCacheHit(cached, event: &event, start: start, request: request)
            onDelta?(text)
            return .success(CallReply(cached, text: text))
        }
        switch await send(request, model: spec.model, messages: messages, event: &event, onDelta: onDelta) {
        case .success(let reply):
            guard let text = reply.response.texts.first else { return .failure(.malformedResponse("no text")) }
            if cache.isEnabled { await cache.store(reply.response, for: cacheKey) }
            return .success(CallReply(reply.response, text: text))
        case .failure(let failure):
            return .failure(failure)
        }
    }

    /// A reply served from the cache: counted (its tokens as cached ones) and traced, at no cost.
    func recordCacheHit(_ cached: ChatResponse, event: inout TraceEvent, start: Date, request: ChatRequest? = nil) {
        event.cacheHit = true
        event.confidence = cached.confidences
        event.inputTokens = cached.usage.inputTokens
        event.outputTokens = cached.usage.outputTokens
        count {
            $0.cacheHits += 1
            $0.cachedInputTokens += cached.usage.inputTokens
            $0.cachedOutputTokens += cached.usage.outputTokens
        }
        record(event, start: start, request: request, finishReason: cached.finishReason)
    }

    /// Sends one request (with `n` completions, or one) through the scheduler
    /// within the model's limits, counting it in the layer's usage and recording
    /// it in the trace and the timeline: the one place a request is sent.
    func send(
        _ request: ChatRequest, model index: Int, messages: [ChatMessage], event: inout TraceEvent,
        onDelta: (@Sendable (String) -> Void)? = nil
    ) async -> Result<ProviderReply, ProviderError> {
        let start = Date()
        let model = runtime.graph.models[index]
        let estimate = Self.tokens(of: messages) + request.maxTokens * request.n
        do {
            let reply = try await runtime.scheduler.withPermit(model: runtime.schedulerSlots[index], tokens: estimate) {
                try await runtime.providers[index].complete(request, onDelta: onDelta)
            }
            let usage = reply.response.usage
            let usd = model.usd(input: usage.inputTokens, output: usage.outputTokens, cachedInput: usage.cachedInputTokens)
            event.inputTokens = usage.inputTokens
            event.outputTokens = usage.outputTokens
            event.promptCachedTokens = usage.cachedInputTokens
            event.usd = usd
            event.attempts = reply.record.attempts
            event.confidence = reply.response.confidences
            event.seconds = Date().timeIntervalSince(start)
            count {
                $0.calls += 1
                $0.retries += max(0, reply.record.attempts - 1)
                $0.inputTokens += usage.inputTokens
                $0.outputTokens += usage.outputTokens
                $0.promptCachedTokens += usage.cachedInputTokens
                $0.usd += usd
            }
            record(event, start: start, request: request, finishReason: reply.response.finishReason)
            return .success(reply)
        } catch {
            let failure: ProviderError = (error as? ProviderError) ?? (error is CancellationError ? .cancelled : .network(String(describing: error)))
            event.error = failure.description
            event.seconds = Date().timeIntervalSince(start)
            count {
                $0.calls += 1
                $0.failedCalls += 1
                if case .http(429, _) = failure { $0.rateLimitedCalls += 1 }
            }
            record(event, start: start, request: request)
            return .failure(failure)
        }
    }
}

/// A model's reply as the layers use it.
struct CallReply: Sendable {
    var text: String
    /// The model stopped at `max_tokens` (OpenAI `length`, Anthropic `max_tokens`).
    var truncated: Bool
    /// How sure the model was, when the call asked for log-probabilities.
    var confidence: Confidence? = nil

    /// Completion `index` of a response.
    init(_ response: ChatResponse, text: String, index: Int = 0) {
        self.text = text
        truncated = Self.stoppedAtLimit(response.finishReason(of: index))
        confidence = response.confidence(of: index)
    }

    static func stoppedAtLimit(_ finishReason: String?) -> Bool {
        finishReason == "length" || finishReason == "max_tokens"
    }
}
