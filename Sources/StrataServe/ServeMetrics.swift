import Foundation
import Prometheus
import StrataRuntime
import Synchronization

/// The server's Prometheus metrics (`GET /metrics`). Labels are model names
/// and status codes only: never a key, a prompt or a user.
final class ServeMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let inflight: Gauge
    private let queueDepth: Gauge
    private let disconnects: Counter
    private let duration: DurationHistogram
    private let firstToken: DurationHistogram

    init() {
        inflight = registry.makeGauge(name: "strata_inflight_requests", help: "Requests running a pipeline now.")
        queueDepth = registry.makeGauge(name: "strata_queue_depth", help: "Requests waiting for a slot.")
        disconnects = registry.makeCounter(name: "strata_client_disconnects_total", help: "Requests whose client went away before the answer.")
        let buckets: [Duration] = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120].map { .milliseconds(Int($0 * 1000)) }
        duration = registry.makeDurationHistogram(
            name: "strata_request_duration_seconds", buckets: buckets, help: "Time from a request's arrival to its last byte.")
        firstToken = registry.makeDurationHistogram(
            name: "strata_time_to_first_token_seconds", buckets: buckets, help: "Time from a streamed request's arrival to its first content.")
    }

    func load(running: Int, waiting: Int) {
        inflight.set(Double(running))
        queueDepth.set(Double(waiting))
    }

    func disconnected() { disconnects.increment() }

    func timeToFirstToken(_ seconds: Double) { firstToken.record(.nanoseconds(Int64(seconds * 1e9))) }

    /// One pipeline's counters, made once: the registry looks a counter up by name and labels under a lock,
    /// which on every request's path cost more than the counting.
    private struct PipelineCounters {
        var callsOK, callsFailed, cacheHits, inputTokens, outputTokens: Counter
        var usd: Counter
        var requests: [Int: Counter] = [:]
    }
    private let counters = Mutex([String: PipelineCounters]())

    private func makeCounters(_ model: String) -> PipelineCounters {
        let labels = [("pipeline", model)]
        return PipelineCounters(
            callsOK: registry.makeCounter(name: "strata_upstream_calls_total", labels: labels + [("outcome", "ok")], help: "Model calls made."),
            callsFailed: registry.makeCounter(name: "strata_upstream_calls_total", labels: labels + [("outcome", "failed")], help: "Model calls made."),
            cacheHits: registry.makeCounter(name: "strata_cache_hits_total", labels: labels, help: "Model calls answered from the cache."),
            inputTokens: registry.makeCounter(name: "strata_tokens_total", labels: labels + [("direction", "input")], help: "Tokens paid for."),
            outputTokens: registry.makeCounter(name: "strata_tokens_total", labels: labels + [("direction", "output")], help: "Tokens paid for."),
            usd: registry.makeCounter(name: "strata_usd_total", labels: labels, help: "Dollars spent on model calls."))
    }

    /// A finished request: its status, and for a pipeline run what it called and spent.
    func finished(model: String, status: Int, seconds: Double, usage: RunUsage?) {
        let (requests, pipeline) = counters.withLock { counters in
            var entry = counters[model] ?? makeCounters(model)
            let requests =
                entry.requests[status]
                ?? registry.makeCounter(
                    name: "strata_requests_total", labels: [("model", model), ("status", String(status))], help: "Requests answered, by model and status.")
            entry.requests[status] = requests
            counters[model] = entry
            return (requests, entry)
        }
        requests.increment()
        duration.record(.nanoseconds(Int64(seconds * 1e9)))
        guard let usage else { return }
        pipeline.callsOK.increment(by: Int64(usage.calls - usage.failedCalls))
        pipeline.callsFailed.increment(by: Int64(usage.failedCalls))
        pipeline.cacheHits.increment(by: Int64(usage.cacheHits))
        pipeline.inputTokens.increment(by: Int64(usage.inputTokens))
        pipeline.outputTokens.increment(by: Int64(usage.outputTokens))
        pipeline.usd.increment(by: usage.usd)
    }

    /// The Prometheus text exposition.
    var text: String { registry.emitToString() }
}
