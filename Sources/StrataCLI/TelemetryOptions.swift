import ArgumentParser
import Foundation
import Logging
import OTel
import ServiceLifecycle
import StrataTelemetry

/// `--otel`: every query, layer and model call exported as OpenTelemetry
/// spans (GenAI conventions) with the GenAI client metrics, over OTLP/HTTP
/// to `OTEL_EXPORTER_OTLP_ENDPOINT` (the standard `OTEL_` variables apply).
struct TelemetryOptions: ParsableArguments {
    @Flag(
        help: """
            Export each query, layer and model call as OpenTelemetry spans, and the GenAI client metrics, over OTLP/HTTP \
            (OTEL_EXPORTER_OTLP_ENDPOINT and the other OTEL_ variables apply; on when that variable is set).
            """)
    var otel = false

    @Flag(help: "With --otel: put each query's messages and answer in its span (off: no prompt or reply text leaves the process).")
    var otelContent = false

    var isEnabled: Bool { otel || ProcessInfo.processInfo.environment["OTEL_EXPORTER_OTLP_ENDPOINT"] != nil }

    /// The exporters, running; nil without `--otel`.
    func start() throws -> Telemetry? {
        guard isEnabled else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = "strata"
        // Strata's own messages stay on standard error; only spans and metrics are exported.
        configuration.logs.enabled = false
        configuration.diagnosticLogLevel = .error
        let tracing = try OTel.makeTracingBackend(configuration: configuration)
        let metrics = try OTel.makeMetricsBackend(configuration: configuration)
        var logger = Logger(label: "strata.otel")
        logger.logLevel = .critical
        let group = ServiceGroup(services: [tracing.service, metrics.service], gracefulShutdownSignals: [], logger: logger)
        let running = Task { try await group.run() }
        return Telemetry(
            observer: GenAITelemetry(tracer: tracing.factory, metrics: metrics.factory, includesContent: otelContent), group: group,
            running: running)
    }
}

/// The running exporters: the observer a runtime reports to, and a shutdown that sends what is left.
final class Telemetry: Sendable {
    let observer: GenAITelemetry
    let group: ServiceGroup
    let running: Task<Void, any Error>

    init(observer: GenAITelemetry, group: ServiceGroup, running: Task<Void, any Error>) {
        self.observer = observer
        self.group = group
        self.running = running
    }

    /// Flushes the spans and metrics not yet sent, then stops the exporters.
    func shutdown() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
    }
}
