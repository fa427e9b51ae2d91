import Foundation

/// One model call of a query, placed in time: what `strata run --timeline`
/// draws. Times are seconds from the start of the query.
public struct CallSpan: Sendable, Hashable, Codable {
    /// The layer the call belongs to.
    public var layer: Int
    /// The node's operation.
    public var operation: String
    /// The model called.
    public var model: String
    /// The sample, for ensemble calls.
    public var sample: Int?
    /// The candidate it worked on, if one.
    public var candidate: Int?
    /// Seconds from the query's start to the call's start.
    public var start: Double
    /// Seconds from the query's start to the call's end.
    public var end: Double
    /// Whether the cache answered.
    public var cacheHit: Bool
    /// Why the call failed, when it did.
    public var error: String?
    /// The reply's path probability, when the call asked for log-probabilities.
    public var confidence: Double? = nil
    /// Of its input tokens, those the provider read from its prompt cache (nil for a reply from Strata's cache).
    public var promptCachedTokens: Int? = nil
    /// Its input tokens, as the provider counted them (nil for a reply from Strata's cache).
    public var inputTokens: Int? = nil
    /// Its output tokens (a cached reply's as they were when it was first made).
    public var outputTokens: Int? = nil
    /// The model's name at its provider (the request's `model`).
    public var requestModel: String? = nil
    /// The model's API: `openai`, `anthropic` or `openai-compatible`.
    public var provider: String? = nil
    /// The request's sampling temperature, token limit and seed.
    public var temperature: Double? = nil
    public var maxTokens: Int? = nil
    public var seed: Int? = nil
    /// Completions the request asked for (`n`).
    public var completions: Int? = nil
    /// Why the reply ended (`stop`, `length`, …), when it arrived.
    public var finishReason: String? = nil
}

/// Writes call spans in the Chrome trace-event format, which Perfetto
/// (ui.perfetto.dev) and chrome://tracing open: one process per query, one
/// row per model, one span per call, named by its operation and annotated
/// with its layer, sample, candidate and whether the cache answered it.
package enum Timeline {
    package static func chromeTrace(_ queries: [(id: String, spans: [CallSpan])]) -> Data {
        var events: [[String: Any]] = []
        for (process, query) in queries.enumerated() {
            events.append(["name": "process_name", "ph": "M", "pid": process + 1, "args": ["name": query.id]])
            var rows: [String: Int] = [:]
            for span in query.spans where rows[span.model] == nil {
                rows[span.model] = rows.count + 1
                events.append(["name": "thread_name", "ph": "M", "pid": process + 1, "tid": rows.count, "args": ["name": span.model]])
            }
            for span in query.spans.sorted(by: { ($0.start, $0.layer) < ($1.start, $1.layer) }) {
                var args: [String: Any] = ["layer": span.layer + 1, "cache_hit": span.cacheHit]
                if let sample = span.sample { args["sample"] = sample }
                if let candidate = span.candidate { args["candidate"] = candidate + 1 }
                if let error = span.error { args["error"] = error }
                if let confidence = span.confidence { args["confidence"] = (confidence * 1000).rounded() / 1000 }
                if let input = span.inputTokens { args["input_tokens"] = input }
                if let cached = span.promptCachedTokens { args["prompt_cached_tokens"] = cached }
                events.append([
                    "name": span.operation, "cat": "layer \(span.layer + 1)", "ph": "X",
                    "ts": Int((span.start * 1e6).rounded()), "dur": max(1, Int(((span.end - span.start) * 1e6).rounded())),
                    "pid": process + 1, "tid": rows[span.model]!, "args": args,
                ])
            }
        }
        let object: [String: Any] = ["traceEvents": events, "displayTimeUnit": "ms"]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
