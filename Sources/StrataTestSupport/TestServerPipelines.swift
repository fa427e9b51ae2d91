import Foundation
import Strata
import StrataTestServer

/// A pipeline whose models all point at `server`.
package func pipeline(
    _ layers: String, server: ScriptedLLMServer, provider: String = "openai-compatible",
    extraModel: String = "", capabilities: String = "{ json_schema: false }", maxInFlight: Int = 64,
    apiKeyEnv: String? = nil
) throws -> CheckedPipeline {
    let keys = apiKeyEnv.map { ", api_key_env: \($0)" } ?? ""
    let source = """
        strata: 1
        models:
          m: { provider: \(provider), model: test-model, base_url: "\(server.baseURL)", capabilities: \(capabilities),
               limits: { max_in_flight: \(maxInFlight) }\(keys) }
        \(extraModel)
        defaults: { max_tokens: 64, seed: 100, temperature: 0.7 }
        layers:
        \(layers)
        """
    return try compiled(source).pipeline
}

/// Fast retries so fault tests take milliseconds. (Timeouts stay generous: the
/// whole suite runs in parallel on two cores, and a starved test must not time out.)
package let quickRetry = RetryPolicy(maxAttempts: 3, baseDelay: 0.01, maxDelay: 0.05, maxRetryAfter: 0.2)

package func runtime(
    _ pipeline: CheckedPipeline, cache: ResponseCache = .disabled, trace: TraceWriter? = nil,
    timeouts: Timeouts = Timeouts(connect: 10, read: 30, total: 60), environment: [String: String] = [:],
    providers: [String: any ChatProvider] = [:]
) throws -> PipelineRuntime {
    try PipelineRuntime(
        pipeline: pipeline,
        options: RuntimeOptions(
            cache: cache, trace: trace, retry: quickRetry, timeouts: timeouts, providers: providers, environment: environment))
}

/// Writes `NAME.yaml` into `directory`: a pipeline named `name` of one ensemble of `samples` calls to `server`,
/// for tests that run the binary on it. Returns its path.
package func writeEnsemblePipeline(named name: String, samples: Int, server: ScriptedLLMServer, in directory: URL) throws -> String {
    let path = directory.appendingPathComponent("\(name).yaml").path
    try """
    strata: 1
    name: \(name)
    models:
      m: { provider: openai-compatible, model: test, base_url: "\(server.baseURL)" }
    layers:
      - ensemble: [{ model: m, samples: \(samples) }]
    """.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}
