import Logging
import OTel
import ServiceLifecycle

/// The OpenTelemetry exporters, running: spans and the GenAI metrics over
/// OTLP/HTTP as the standard `OTEL_` variables configure them (swift-otel),
/// and the observer a runtime reports its queries to.
package final class OTelExport: Sendable {
    package let observer: GenAITelemetry
    let group: ServiceGroup
    let running: Task<Void, any Error>

    /// Starts the exporters for a service named `serviceName`; `includesContent` puts queries' messages and answers on their spans.
    package init(serviceName: String = "strata", includesContent: Bool = false) throws {
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        // Strata's own messages stay on standard error; only spans and metrics are exported.
        configuration.logs.enabled = false
        configuration.diagnosticLogLevel = .error
        let tracing = try OTel.makeTracingBackend(configuration: configuration)
        let metrics = try OTel.makeMetricsBackend(configuration: configuration)
        var logger = Logger(label: "strata.otel")
        logger.logLevel = .critical
        let group = ServiceGroup(services: [tracing.service, metrics.service], gracefulShutdownSignals: [], logger: logger)
        self.group = group
        running = Task { try await group.run() }
        observer = GenAITelemetry(tracer: tracing.factory, metrics: metrics.factory, includesContent: includesContent)
    }

    /// Sends the spans and metrics not yet sent, then stops the exporters.
    package func shutdown() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
    }
}
