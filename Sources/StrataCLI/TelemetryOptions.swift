import ArgumentParser
import Foundation
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
    func start() throws -> OTelExport? {
        guard isEnabled else { return nil }
        return try OTelExport(includesContent: otelContent)
    }

    /// Runs `body` with the exporters (nil without `--otel`), then shuts them down however `body` ends,
    /// so the spans of a command that failed or was interrupted are sent too.
    func exporting<T>(_ body: (OTelExport?) async throws -> T) async throws -> T {
        let export = try start()
        let value: T
        do {
            value = try await body(export)
        } catch {
            await export?.shutdown()
            throw error
        }
        await export?.shutdown()
        return value
    }
}
