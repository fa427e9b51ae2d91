// Measures the runtime against the in-process test server (real HTTP on
// 127.0.0.1) and against a zero-latency in-process provider.
// Run in release: `swift run -c release RuntimeBenchmark [--quick] [--only N]`.
import Foundation
import Strata
import StrataTelemetry
import StrataTestServer

func peakResidentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return .nan }
    return kilobytes / 1024
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

let quick = CommandLine.arguments.contains("--quick")
/// `--only 3` runs one benchmark.
let only = CommandLine.arguments.firstIndex(of: "--only").flatMap { Int(CommandLine.arguments[$0 + 1]) }
func selected(_ number: Int) -> Bool { only == nil || only == number }
let root = FileManager.default.currentDirectoryPath

/// The paper's first canonical pipeline, pointed at `baseURL` with `maxInFlight`.
func sampleRankFuse(baseURL: String, maxInFlight: Int) -> CheckedPipeline {
    guard var pipeline = PipelineCompiler().compile(path: "\(root)/Pipelines/archon-sample-rank-fuse.yaml").compiled?.pipeline else {
        print("Pipelines/archon-sample-rank-fuse.yaml did not compile"); exit(1)
    }
    for index in pipeline.models.indices {
        pipeline.models[index].provider = .openaiCompatible
        pipeline.models[index].baseURL = baseURL
        pipeline.models[index].maxInFlight = maxInFlight
        pipeline.models[index].requestsPerMinute = nil
        pipeline.models[index].tokensPerMinute = nil
        // One request per sample, as the throughput and critical-path figures have always counted them.
        pipeline.models[index].supportsN = false
    }
    return pipeline
}

// 1. Critical path: 10 samples → rank 5 → fuse, 200 ms a call: the bound is 3 × 200 ms.
if selected(1) {
    let server = try ScriptedLLMServer(latency: 0.2)
    let runtime = try PipelineRuntime(pipeline: sampleRankFuse(baseURL: server.baseURL, maxInFlight: 64))
    _ = await runtime.run(Query(prompt: "warm up the connection pool"))
    var times: [Double] = []
    for round in 0..<5 {
        let start = now()
        let result = await runtime.run(Query(prompt: "critical path \(round)"))
        times.append(now() - start)
        if result.answer == nil { print("failed: \(result.failure ?? "")") }
    }
    try await runtime.shutdown()
    times.sort()
    print(
        String(
            format: "1. critical path, 10 samples → rank 5 → fuse at 200 ms/call: median %.3f s (bound 0.600 s, +%.1f%%), best %.3f s",
            times[2], (times[2] / 0.6 - 1) * 100, times[0]))
}

// 2. Throughput: many queries × that pipeline with max in-flight C: calls/s vs C / latency.
if selected(2) {
    let latency = 0.05, limit = 32
    let queries = quick ? 100 : 1000
    let server = try ScriptedLLMServer(latency: latency, threads: 2)
    let runtime = try PipelineRuntime(pipeline: sampleRankFuse(baseURL: server.baseURL, maxInFlight: limit))
    let start = now()
    let failures = await withTaskGroup(of: Bool.self) { group in
        for item in 0..<queries { group.addTask { await runtime.run(Query(prompt: "throughput \(item)")).answer == nil } }
        var failures = 0
        for await failed in group where failed { failures += 1 }
        return failures
    }
    let elapsed = now() - start
    let calls = server.requestCount
    try await runtime.shutdown()
    let ideal = Double(limit) / latency
    print(
        String(
            format: "2. throughput, %d queries (%d calls), C = %d, %.0f ms/call: %.1f calls/s vs ideal %.1f (%.1f%%), peak in flight %d, %d failed",
            queries, calls, limit, latency * 1000, Double(calls) / elapsed, ideal, Double(calls) / elapsed / ideal * 100, server.maxInFlight, failures))
}

// 3. Overhead: 100,000+ call nodes against a zero-latency in-process provider.
struct Instant: ChatProvider {
    func complete(_ request: ChatRequest, onDelta: (@Sendable (String) -> Void)?) async throws -> ProviderReply {
        let verdict = request.messages.last?.content.contains("[Correct] or [Incorrect]") == true
        return ProviderReply(response: ChatResponse(texts: [verdict ? "[Correct]" : "ok"], usage: Usage(inputTokens: 1, outputTokens: 1)))
    }
}
if selected(3) {
    let samples = quick ? 5_000 : 34_000
    let source = """
        strata: 1
        models:
          m: { provider: openai-compatible, model: q, base_url: http://127.0.0.1:9/v1, context_window: 32768, limits: { max_in_flight: 256 } }
        layers:
          - ensemble: [{ model: m, samples: \(samples) }]
          - verify: { model: m, on_empty: fail }
          - fuse: [{ model: m, max_tokens: 1 }]
        """
    guard let compiled = PipelineCompiler().compile(source: source, path: "overhead.yaml").estimate else { print("overhead pipeline did not compile"); exit(1) }
    let runtime = try PipelineRuntime(pipeline: compiled.pipeline, options: RuntimeOptions(providers: ["m": Instant()]))
    let start = now()
    let result = await runtime.run(Query(prompt: "overhead"))
    let elapsed = now() - start
    try await runtime.shutdown()
    let calls = result.usage.calls
    print(
        String(
            format: "3. overhead, %d call nodes, zero-latency provider: %.2f s, %.1f µs per node, peak RSS %.0f MB%@",
            calls, elapsed, elapsed / Double(calls) * 1e6, peakResidentMegabytes(), result.answer == nil ? " (FAILED: \(result.failure ?? ""))" : ""))
}

// 4. Dataflow against a layer-by-layer schedule: 10 samples → verify each → fuse,
// latency lognormal (median 200 ms, sigma 0.5) per call. The layered time and
// the dataflow ideal are computed from the same recorded call spans.
/// Search's seeded generator behind a lock, shared by the server's responder threads.
final class LockedGenerator: @unchecked Sendable {
    private let lock = NSLock()
    private var generator: SeededGenerator
    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
    /// A standard normal draw (Box–Muller).
    func normal() -> Double {
        lock.withLock {
            sqrt(-2 * log(Double.random(in: Double.ulpOfOne...1, using: &generator))) * cos(2 * .pi * Double.random(in: 0..<1, using: &generator))
        }
    }
}
if selected(4) {
    let queries = quick ? 40 : 200
    let jitter = LockedGenerator(seed: 42)
    let server = try ScriptedLLMServer(threads: 2) { request, _ in
        .delayed(0.2 * exp(0.5 * jitter.normal()), .text(ScriptedLLMServer.defaultAnswer(for: request)))
    }
    let source = """
        strata: 1
        models:
          m: { provider: openai-compatible, model: q, base_url: "\(server.baseURL)", limits: { max_in_flight: 256 } }
        layers:
          - ensemble: [{ model: m, samples: 10 }]
          - verify: { model: m, on_empty: keep-all }
          - fuse: [m]
        """
    guard let compiled = PipelineCompiler().compile(source: source, path: "dataflow.yaml").compiled else { print("pipeline did not compile"); exit(1) }
    let runtime = try PipelineRuntime(compiled: compiled, options: RuntimeOptions(recordTimeline: true))
    _ = await runtime.run(Query(prompt: "warm up the connection pool"))
    let concurrent = 4
    let results: [(wall: Double, result: RunResult)] = await withTaskGroup(of: (Double, RunResult).self) { group in
        var next = 0
        var results: [(Double, RunResult)] = []
        func launch() {
            let item = next
            next += 1
            group.addTask {
                let start = now()
                let result = await runtime.run(Query(prompt: "dataflow \(item)"))
                return (now() - start, result)
            }
        }
        for _ in 0..<concurrent { launch() }
        while let finished = await group.next() {
            results.append(finished)
            if next < queries { launch() }
        }
        return results
    }
    try await runtime.shutdown()
    var measured = 0.0, layered = 0.0, ideal = 0.0, failures = 0
    for (wall, result) in results {
        if result.answer == nil { failures += 1 }
        func duration(_ span: CallSpan) -> Double { span.end - span.start }
        let samples = result.timeline.filter { $0.operation == "generate" }
        var chains: [Int: Double] = [:]
        for span in samples { chains[span.sample ?? 0, default: 0] += duration(span) }
        var verifyPerCandidate: [Int: Double] = [:]
        for span in result.timeline where span.operation.hasPrefix("verify") { verifyPerCandidate[span.candidate ?? 0, default: 0] += duration(span) }
        let fuse = result.timeline.filter { $0.operation == "fuse" }.map(duration).max() ?? 0
        layered += (samples.map(duration).max() ?? 0) + (verifyPerCandidate.values.max() ?? 0) + fuse
        ideal += chains.map { $0.value + (verifyPerCandidate[$0.key] ?? 0) }.max()! + fuse
        measured += wall
    }
    let count = Double(results.count)
    print(
        String(
            format: "4. dataflow, %d queries of 10 samples → verify each → fuse, lognormal latency (median 200 ms, σ 0.5), %d at a time: "
                + "measured %.3f s/query, dataflow ideal %.3f s (measured is +%.1f%%), layered %.3f s (dataflow %.1f%% faster), %d failed",
            results.count, concurrent, measured / count, ideal / count, (measured / ideal - 1) * 100, layered / count,
            (1 - measured / layered) * 100, failures))
}

// 5. Quorum 6 of 10 against all 10, same lognormal latency: 10 samples → fuse.
if selected(5) {
    let queries = quick ? 40 : 200
    let jitter = LockedGenerator(seed: 7)
    let server = try ScriptedLLMServer(threads: 2) { request, _ in
        .delayed(0.2 * exp(0.5 * jitter.normal()), .text(ScriptedLLMServer.defaultAnswer(for: request)))
    }
    var report: [String] = []
    for quorum in ["", ", quorum: 6"] {
        let source = """
            strata: 1
            models:
              m: { provider: openai-compatible, model: q, base_url: "\(server.baseURL)", limits: { max_in_flight: 256 } }
            layers:
              - ensemble: { models: [{ model: m, samples: 10 }]\(quorum) }
              - fuse: [m]
            """
        guard let compiled = PipelineCompiler().compile(source: source, path: "quorum.yaml").compiled else { print("pipeline did not compile"); exit(1) }
        let runtime = try PipelineRuntime(compiled: compiled)
        _ = await runtime.run(Query(prompt: "warm up"))
        var times: [Double] = []
        var calls = 0
        for item in 0..<queries {
            let start = now()
            let result = await runtime.run(Query(prompt: "quorum \(item)"))
            times.append(now() - start)
            calls += result.usage.calls
        }
        try await runtime.shutdown()
        times.sort()
        report.append(
            String(
                format: "%@: p50 %.3f s, p95 %.3f s, %.1f calls sent per query", quorum.isEmpty ? "all 10" : "quorum 6 of 10",
                times[times.count / 2], times[times.count * 95 / 100], Double(calls) / Double(queries)))
    }
    print("5. quorum, \(queries) queries of 10 samples → fuse, lognormal latency (median 200 ms, σ 0.5): " + report.joined(separator: "; "))
}

// 6. Samples in one request with `n` against one request each: 7 samples → fuse on gpt-4o-mini's
// prices, the test server billing a prompt's tokens (bytes / 4) once per request, lognormal latency.
if selected(6) {
    let queries = quick ? 20 : 100
    let jitter = LockedGenerator(seed: 11)
    let server = try ScriptedLLMServer(threads: 2) { request, _ in
        let answer = ScriptedLLMServer.defaultAnswer(for: request)
        return .delayed(
            0.2 * exp(0.5 * jitter.normal()),
            .text(answer, inputTokens: request.promptText.utf8.count / 4, outputTokens: max(1, answer.utf8.count / 4)))
    }
    var report: [String] = []
    for takesN in [false, true] {
        let source = """
            strata: 1
            models:
              m: { provider: openai-compatible, model: gpt-4o-mini, base_url: "\(server.baseURL)", price: { input: 0.15, output: 0.6 },
                   capabilities: { n: \(takesN) }, limits: { max_in_flight: 64 } }
            defaults: { max_tokens: 256 }
            layers:
              - ensemble: [{ model: m, samples: 7 }]
              - fuse: [m]
            """
        guard let compiled = PipelineCompiler().compile(source: source, path: "n.yaml").compiled else { print("pipeline did not compile"); exit(1) }
        let runtime = try PipelineRuntime(compiled: compiled)
        _ = await runtime.run(Query(prompt: "warm up"))
        var times: [Double] = []
        var usage = RunUsage()
        for item in 0..<queries {
            let start = now()
            // A long question, as real ones are: the prompt is what `n` saves.
            let result = await runtime.run(Query(prompt: "Question \(item): " + String(repeating: "Explain the steps of the calculation. ", count: 40)))
            times.append(now() - start)
            usage = usage + result.usage
        }
        try await runtime.shutdown()
        times.sort()
        let q = Double(queries)
        report.append(
            String(
                format: "%@: %.1f requests, %.0f input tokens, $%.6f per query (estimated worst case %d calls, %d input tokens), p50 %.3f s",
                takesN ? "n = 7" : "one request per sample", Double(usage.calls) / q, Double(usage.inputTokens) / q, usage.usd / q,
                compiled.cost.total.calls, compiled.cost.total.inputTokens, times[times.count / 2]))
    }
    print("6. \(queries) queries of 7 samples → fuse: " + report.joined(separator: "; "))
}

// 7. Tracing overhead: the per-node cost of queries of 10 samples → verify → fuse against the
// zero-latency provider, with the OpenTelemetry exporter (spans and GenAI metrics, OTLP/HTTP to
// an in-process receiver) on and off, in alternating rounds of the same queries.
if selected(7) {
    let collector = try ScriptedLLMServer { _, _ in .raw(status: 200, contentType: "application/x-protobuf", body: "") }
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:\(collector.port)", 1)
    let export = try OTelExport(serviceName: "strata-benchmark")
    let source = """
        strata: 1
        models:
          m: { provider: openai-compatible, model: q, base_url: http://127.0.0.1:9/v1, limits: { max_in_flight: 256 } }
        layers:
          - ensemble: [{ model: m, samples: 10 }]
          - verify: { model: m, on_empty: fail }
          - fuse: [{ model: m, max_tokens: 1 }]
        """
    guard let compiled = PipelineCompiler().compile(source: source, path: "traced.yaml").compiled else { print("pipeline did not compile"); exit(1) }
    let observer = export.observer
    let plain = try PipelineRuntime(compiled: compiled, options: RuntimeOptions(providers: ["m": Instant()]))
    let traced = try PipelineRuntime(compiled: compiled, options: RuntimeOptions(providers: ["m": Instant()], observer: observer))
    let queries = quick ? 300 : 2000
    func round(_ runtime: PipelineRuntime) async -> (seconds: Double, calls: Int) {
        let start = now()
        let calls = await withTaskGroup(of: Int.self) { group in
            var next = 0, calls = 0
            for _ in 0..<16 {
                let index = next
                next += 1
                group.addTask { await runtime.run(Query(prompt: "traced \(index)")).usage.calls }
            }
            while let finished = await group.next() {
                calls += finished
                if next < queries {
                    let index = next
                    next += 1
                    group.addTask { await runtime.run(Query(prompt: "traced \(index)")).usage.calls }
                }
            }
            return calls
        }
        return (now() - start, calls)
    }
    _ = await round(plain)
    _ = await round(traced)
    var off: [Double] = [], on: [Double] = []
    for index in 0..<(quick ? 3 : 7) {
        for isTraced in index % 2 == 0 ? [false, true] : [true, false] {
            let run = await round(isTraced ? traced : plain)
            let perNode = run.seconds / Double(run.calls) * 1e6
            if isTraced { on.append(perNode) } else { off.append(perNode) }
        }
    }
    await export.shutdown()
    on.sort()
    off.sort()
    let exported = collector.requests.filter { $0.path == "/v1/traces" }.count
    print(
        String(
            format:
                "7. tracing overhead, %d queries × 21 call nodes a round, zero-latency provider: off %.1f µs per node, on %.1f µs (%+.1f%%), medians of %d rounds; %d OTLP trace exports received",
            queries, off[off.count / 2], on[on.count / 2], (on[on.count / 2] / off[off.count / 2] - 1) * 100, on.count, exported))
    try await plain.shutdown()
    try await traced.shutdown()
}
