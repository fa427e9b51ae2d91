import CoreMetrics
import Foundation
import StrataRuntime
import Synchronization
import Tracing

/// Each finished query as OpenTelemetry spans, made from the same calls in
/// time the Chrome timeline draws: one span for the query, one per layer,
/// one per model call. Call spans follow the GenAI semantic conventions
/// (`chat {model}`, kind client, `gen_ai.*` attributes), and each call
/// records the `gen_ai.client.token.usage` and
/// `gen_ai.client.operation.duration` histograms. The query's span is the
/// child of the trace context the caller ran it in (a served request's
/// `traceparent`). No prompt or reply text goes into a span unless
/// `includesContent` is set.
package struct GenAITelemetry: QueryObserver {
    package let tracer: any Tracer
    let recorders: GenAIRecorders?
    let includesContent: Bool

    package init(tracer: any Tracer, metrics: (any MetricsFactory)? = nil, includesContent: Bool = false) {
        self.tracer = tracer
        self.recorders = metrics.map(GenAIRecorders.init)
        self.includesContent = includesContent
    }

    package func queryStarting(id: String) -> (any Sendable)? { InstrumentationContext.current }

    package func queryFinished(_ query: FinishedQuery, token: (any Sendable)?) {
        let parent = (token as? InstrumentationContext) ?? .topLevel
        let origin = query.started
        let querySpan = tracer.startSpan("strata.query \(query.pipeline)", context: parent, ofKind: .internal, at: Instant(origin))
        let timeline = query.result.timeline
        // A trace the sampler left out: no span of the query is recorded, only the metrics.
        guard querySpan.isRecording else {
            querySpan.end(at: Instant(query.ended))
            for call in timeline { recordMetrics(call) }
            return
        }
        // Attributes are set once a span (each set takes the span's lock).
        var attributes = SpanAttributes()
        attributes["strata.query.id"] = query.id
        attributes["strata.pipeline"] = query.pipeline
        attributes["strata.calls"] = query.result.usage.calls
        attributes["strata.cache_hits"] = query.result.usage.cacheHits
        attributes["strata.usd"] = query.result.usage.usd
        attributes["gen_ai.usage.input_tokens"] = query.result.usage.inputTokens
        attributes["gen_ai.usage.output_tokens"] = query.result.usage.outputTokens
        if includesContent {
            attributes["gen_ai.input.messages"] = Self.messages(query.query)
            if let answer = query.result.answer { attributes["strata.answer"] = answer }
        }
        querySpan.attributes = attributes
        if let failure = query.result.failure { querySpan.setStatus(SpanStatus(code: .error, message: failure)) }
        for layer in query.result.layers {
            let calls = timeline.filter { $0.layer == layer.index }
            // A layer without calls (a vote) lasts from the end of the one before to the start of the next.
            let start = calls.map(\.start).min() ?? timeline.filter { $0.layer < layer.index }.map(\.end).max() ?? 0
            let end = calls.map(\.end).max() ?? start
            let layerSpan = tracer.startSpan(
                "strata.layer \(layer.kind)", context: querySpan.context, ofKind: .internal, at: Instant(origin, plus: start))
            var layerAttributes = SpanAttributes()
            layerAttributes["strata.layer.index"] = layer.index + 1
            layerAttributes["strata.layer.kind"] = layer.kind
            layerAttributes["strata.candidates.in"] = layer.candidatesIn
            layerAttributes["strata.candidates.out"] = layer.candidates.count
            layerSpan.attributes = layerAttributes
            for call in calls {
                record(call, origin: origin, parent: layerSpan.context)
                recordMetrics(call)
            }
            layerSpan.end(at: Instant(origin, plus: end))
        }
        querySpan.end(at: Instant(query.ended))
    }

    /// One model call: a client span named as the conventions say.
    func record(_ call: CallSpan, origin: Date, parent: InstrumentationContext) {
        let model = call.requestModel ?? call.model
        let span = tracer.startSpan("chat \(model)", context: parent, ofKind: .client, at: Instant(origin, plus: call.start))
        var attributes = SpanAttributes()
        attributes["gen_ai.operation.name"] = "chat"
        attributes["gen_ai.provider.name"] = Self.providerName(call.provider)
        attributes["gen_ai.request.model"] = model
        if let temperature = call.temperature { attributes["gen_ai.request.temperature"] = temperature }
        if let maxTokens = call.maxTokens { attributes["gen_ai.request.max_tokens"] = maxTokens }
        if let seed = call.seed { attributes["gen_ai.request.seed"] = seed }
        if let completions = call.completions, completions > 1 { attributes["gen_ai.request.choice.count"] = completions }
        if let reason = call.finishReason { attributes["gen_ai.response.finish_reasons"] = [reason] }
        if let input = call.inputTokens { attributes["gen_ai.usage.input_tokens"] = input }
        if let output = call.outputTokens { attributes["gen_ai.usage.output_tokens"] = output }
        if let cached = call.promptCachedTokens { attributes["gen_ai.usage.cache_read.input_tokens"] = cached }
        attributes["strata.model"] = call.model
        attributes["strata.operation"] = call.operation
        attributes["strata.cache_hit"] = call.cacheHit
        if let sample = call.sample { attributes["strata.sample"] = sample }
        if let candidate = call.candidate { attributes["strata.candidate"] = candidate + 1 }
        if let confidence = call.confidence { attributes["strata.confidence"] = confidence }
        if let error = call.error { attributes["error.type"] = Self.errorType(error) }
        span.attributes = attributes
        if let error = call.error { span.setStatus(SpanStatus(code: .error, message: error)) }
        span.end(at: Instant(origin, plus: call.end))
    }

    /// The conventions' client metrics for a call sent: tokens by type, and its duration in seconds.
    func recordMetrics(_ call: CallSpan) {
        guard let recorders, !call.cacheHit else { return }
        let model = call.requestModel ?? call.model
        let instruments = recorders.instruments(
            provider: Self.providerName(call.provider), model: model, error: call.error.map(Self.errorType))
        instruments.duration.record(call.end - call.start)
        if let input = call.inputTokens { instruments.inputTokens.record(Int64(input)) }
        if let output = call.outputTokens { instruments.outputTokens.record(Int64(output)) }
    }

    /// The conventions' well-known names where the API is one; a server that only speaks OpenAI's API keeps Strata's name for it.
    static func providerName(_ provider: String?) -> String {
        switch provider {
        case "openai": "openai"
        case "anthropic": "anthropic"
        case let other?: other
        case nil: "unknown"
        }
    }

    /// A low-cardinality error type: the failure's first words, not its details.
    static func errorType(_ error: String) -> String {
        if error.contains("cancel") { return "cancelled" }
        if let range = error.range(of: #"HTTP \d{3}"#, options: .regularExpression) { return String(error[range]) }
        return String(error.prefix { $0 != ":" && $0 != "(" }.prefix(40)).trimmingCharacters(in: .whitespaces)
    }

    /// The query's messages in the conventions' JSON shape, for a user who opted in.
    static func messages(_ query: Query) -> String {
        let parts = query.messages.map { ["role": $0.role.rawValue, "parts": [["type": "text", "content": $0.content]]] as [String: Any] }
        let data = (try? JSONSerialization.data(withJSONObject: parts, options: [.sortedKeys])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// A wall-clock instant for spans made after the fact, from the query's start and an offset in seconds.
struct Instant: TracerInstant {
    var nanosecondsSinceEpoch: UInt64

    init(_ date: Date, plus seconds: Double = 0) {
        nanosecondsSinceEpoch = UInt64(max(0, (date.timeIntervalSince1970 + seconds) * 1e9))
    }

    static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch }
}

/// The GenAI client histograms, made once per provider, model and error type: a factory lookup
/// per call cost more than the recording.
final class GenAIRecorders: Sendable {
    struct Instruments {
        var duration: Recorder
        var inputTokens: Recorder
        var outputTokens: Recorder
    }
    private let factory: any MetricsFactory
    private let made = Mutex([String: Instruments]())

    init(_ factory: any MetricsFactory) { self.factory = factory }

    func instruments(provider: String, model: String, error: String?) -> Instruments {
        let key = "\(provider)\u{0}\(model)\u{0}\(error ?? "")"
        return made.withLock { made in
            if let instruments = made[key] { return instruments }
            var dimensions = [("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", provider), ("gen_ai.request.model", model)]
            if let error { dimensions.append(("error.type", error)) }
            let instruments = Instruments(
                duration: Recorder(label: "gen_ai.client.operation.duration", dimensions: dimensions, aggregate: true, factory: factory),
                inputTokens: Recorder(
                    label: "gen_ai.client.token.usage", dimensions: dimensions + [("gen_ai.token.type", "input")], aggregate: true, factory: factory),
                outputTokens: Recorder(
                    label: "gen_ai.client.token.usage", dimensions: dimensions + [("gen_ai.token.type", "output")], aggregate: true, factory: factory))
            made[key] = instruments
            return instruments
        }
    }
}
