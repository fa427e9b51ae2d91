import CoreMetrics
import Foundation
import StrataRuntime
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
    let metrics: (any MetricsFactory)?
    let includesContent: Bool

    package init(tracer: any Tracer, metrics: (any MetricsFactory)? = nil, includesContent: Bool = false) {
        self.tracer = tracer
        self.metrics = metrics
        self.includesContent = includesContent
    }

    package func queryStarting(id: String) -> (any Sendable)? { InstrumentationContext.current }

    package func queryFinished(_ query: FinishedQuery, token: (any Sendable)?) {
        let parent = (token as? InstrumentationContext) ?? .topLevel
        let origin = query.started
        let querySpan = tracer.startSpan("strata.query \(query.pipeline)", context: parent, ofKind: .internal, at: Instant(origin))
        querySpan.attributes["strata.query.id"] = query.id
        querySpan.attributes["strata.pipeline"] = query.pipeline
        querySpan.attributes["strata.calls"] = query.result.usage.calls
        querySpan.attributes["strata.cache_hits"] = query.result.usage.cacheHits
        querySpan.attributes["strata.usd"] = query.result.usage.usd
        querySpan.attributes["gen_ai.usage.input_tokens"] = query.result.usage.inputTokens
        querySpan.attributes["gen_ai.usage.output_tokens"] = query.result.usage.outputTokens
        if includesContent {
            querySpan.attributes["gen_ai.input.messages"] = Self.messages(query.query)
            if let answer = query.result.answer { querySpan.attributes["strata.answer"] = answer }
        }
        if let failure = query.result.failure { querySpan.setStatus(SpanStatus(code: .error, message: failure)) }
        let timeline = query.result.timeline
        for layer in query.result.layers {
            let calls = timeline.filter { $0.layer == layer.index }
            // A layer without calls (a vote) lasts from the end of the one before to the start of the next.
            let start = calls.map(\.start).min() ?? timeline.filter { $0.layer < layer.index }.map(\.end).max() ?? 0
            let end = calls.map(\.end).max() ?? start
            let layerSpan = tracer.startSpan(
                "strata.layer \(layer.kind)", context: querySpan.context, ofKind: .internal, at: Instant(origin, plus: start))
            layerSpan.attributes["strata.layer.index"] = layer.index + 1
            layerSpan.attributes["strata.layer.kind"] = layer.kind
            layerSpan.attributes["strata.candidates.in"] = layer.candidatesIn
            layerSpan.attributes["strata.candidates.out"] = layer.candidates.count
            for call in calls { record(call, origin: origin, parent: layerSpan.context) }
            layerSpan.end(at: Instant(origin, plus: end))
        }
        querySpan.end(at: Instant(query.ended))
    }

    /// One model call: a client span named as the conventions say, and its metrics.
    func record(_ call: CallSpan, origin: Date, parent: InstrumentationContext) {
        let model = call.requestModel ?? call.model
        let span = tracer.startSpan("chat \(model)", context: parent, ofKind: .client, at: Instant(origin, plus: call.start))
        let provider = Self.providerName(call.provider)
        span.attributes["gen_ai.operation.name"] = "chat"
        span.attributes["gen_ai.provider.name"] = provider
        span.attributes["gen_ai.request.model"] = model
        if let temperature = call.temperature { span.attributes["gen_ai.request.temperature"] = temperature }
        if let maxTokens = call.maxTokens { span.attributes["gen_ai.request.max_tokens"] = maxTokens }
        if let seed = call.seed { span.attributes["gen_ai.request.seed"] = seed }
        if let completions = call.completions, completions > 1 { span.attributes["gen_ai.request.choice.count"] = completions }
        if let reason = call.finishReason { span.attributes["gen_ai.response.finish_reasons"] = [reason] }
        if let input = call.inputTokens { span.attributes["gen_ai.usage.input_tokens"] = input }
        if let output = call.outputTokens { span.attributes["gen_ai.usage.output_tokens"] = output }
        if let cached = call.promptCachedTokens { span.attributes["gen_ai.usage.cache_read.input_tokens"] = cached }
        span.attributes["strata.model"] = call.model
        span.attributes["strata.operation"] = call.operation
        span.attributes["strata.cache_hit"] = call.cacheHit
        if let sample = call.sample { span.attributes["strata.sample"] = sample }
        if let candidate = call.candidate { span.attributes["strata.candidate"] = candidate + 1 }
        if let confidence = call.confidence { span.attributes["strata.confidence"] = confidence }
        if let error = call.error {
            span.attributes["error.type"] = Self.errorType(error)
            span.setStatus(SpanStatus(code: .error, message: error))
        }
        span.end(at: Instant(origin, plus: call.end))
        guard let metrics, !call.cacheHit else { return }
        // The conventions' client metrics: tokens by type, and the call's duration, in seconds.
        var dimensions = [("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", provider), ("gen_ai.request.model", model)]
        if let error = call.error { dimensions.append(("error.type", Self.errorType(error))) }
        let duration = metrics.makeRecorder(label: "gen_ai.client.operation.duration", dimensions: dimensions, aggregate: true)
        duration.record(call.end - call.start)
        for (type, tokens) in [("input", call.inputTokens), ("output", call.outputTokens)] {
            guard let tokens else { continue }
            metrics.makeRecorder(label: "gen_ai.client.token.usage", dimensions: dimensions + [("gen_ai.token.type", type)], aggregate: true)
                .record(Int64(tokens))
        }
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
