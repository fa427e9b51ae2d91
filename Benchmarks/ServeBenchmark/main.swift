// What `strata serve` costs over running the same pipeline in-process: a
// zero-latency test server upstream, 16 concurrent clients, interleaved
// rounds of the two sides (these machines are noisy, so the ratio is
// measured side by side). The upstream and the load client are processes
// of their own (this binary with `--upstream` and `--load`), so the CPU this
// process spends a request is the pipeline's in-process, and the server's
// through `strata serve`. Run in release:
// `swift run -c release ServeBenchmark [--quick] [--requests N] [--rounds R]`.
import AsyncHTTPClient
import Foundation
import NIOCore
import Strata
import StrataSandbox
import StrataServe
import StrataTestServer

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func argument(_ name: String, _ fallback: Int) -> Int {
    CommandLine.arguments.firstIndex(of: name).flatMap { Int(CommandLine.arguments[$0 + 1]) } ?? fallback
}

/// CPU seconds this process has used, user and system.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

let quick = CommandLine.arguments.contains("--quick")
let requests = argument("--requests", quick ? 400 : 2000)
let rounds = argument("--rounds", quick ? 2 : 5)
let concurrency = 16

func residentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return .nan }
    return kilobytes / 1024
}

/// A pipeline against `upstream`: P1 is one call, P6 the quickstart's shape (4 samples, rank, fuse).
func pipeline(_ name: String, layers: String, upstream: String) throws -> CheckedPipeline {
    let source = """
        strata: 1
        name: \(name)
        models:
          m: { provider: openai-compatible, model: test, base_url: "\(upstream)", limits: { max_in_flight: 256 } }
        defaults: { max_tokens: 64 }
        layers:
        \(layers)
        """
    let result = PipelineCompiler().compile(source: source, path: "\(name).yaml")
    guard let compiled = result.compiled else { fatalError("\(name) did not compile: \(result.diagnostics)") }
    return compiled.pipeline
}

/// Runs `total` jobs with `concurrency` in flight; each job's latency.
func drive(
    _ total: Int, concurrency: Int = concurrency, _ job: @escaping @Sendable (Int) async -> Bool
) async -> (
    seconds: Double, latencies: [Double], errors: Int
) {
    let start = now()
    var latencies: [Double] = []
    var errors = 0
    await withTaskGroup(of: (Double, Bool).self) { group in
        var next = 0
        func launch() {
            let index = next
            next += 1
            group.addTask {
                let began = now()
                let ok = await job(index)
                return (now() - began, ok)
            }
        }
        for _ in 0..<min(concurrency, total) { launch() }
        while let (latency, ok) = await group.next() {
            latencies.append(latency)
            if !ok { errors += 1 }
            if next < total { launch() }
        }
    }
    return (now() - start, latencies.sorted(), errors)
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// The load client: one request through the server.
struct ServeClient: Sendable {
    let port: Int
    let client: HTTPClient

    func request(_ model: String, _ index: Int, stream: Bool) async -> Bool {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        let streamField = stream ? #", "stream": true, "stream_options": {"include_usage": true}"# : ""
        request.body = .bytes(
            ByteBuffer(string: #"{"model": "\#(model)", "messages": [{"role": "user", "content": "question \#(index)"}]\#(streamField)}"#))
        guard let response = try? await client.execute(request, timeout: .seconds(60)),
            let body = try? await response.body.collect(upTo: 1 << 22)
        else { return false }
        return response.status == .ok && (stream ? String(buffer: body).hasSuffix("data: [DONE]\n\n") : body.readableBytes > 0)
    }
}

func makeClient() -> HTTPClient {
    HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)))
}

// `--upstream`: the zero-latency model server, in a process of its own; says its port, serves until its input closes.
if CommandLine.arguments.contains("--upstream") {
    let upstream = try ScriptedLLMServer(threads: 1)
    FileHandle.standardOutput.write(Data("\(upstream.port)\n".utf8))
    // It keeps every request it saw: cleared, so its memory is not the server's.
    Thread.detachNewThread {
        while true {
            Thread.sleep(forTimeInterval: 1)
            upstream.resetRecords()
        }
    }
    while readLine() != nil {}
    exit(0)
}

// `--load PORT MODEL REQUESTS CONCURRENCY STREAM`: the load client, in a process of its own; prints
// the run's seconds, errors and every latency.
if let at = CommandLine.arguments.firstIndex(of: "--load") {
    let fields = CommandLine.arguments[(at + 1)...].map { $0 }
    let client = makeClient()
    let load = ServeClient(port: Int(fields[0])!, client: client)
    let model = fields[1], stream = fields[4] == "1"
    _ = await drive(min(50, Int(fields[2])!), concurrency: Int(fields[3])!) { index in await load.request(model, -index, stream: stream) }
    let run = await drive(Int(fields[2])!, concurrency: Int(fields[3])!) { index in await load.request(model, index, stream: stream) }
    print(run.seconds, run.errors, run.latencies.map { String($0) }.joined(separator: " "))
    try await client.shutdown().get()
    exit(0)
}

/// The upstream, started as a process of its own.
func startUpstream() throws -> (process: ChildProcess, input: Pipe, baseURL: String) {
    let input = Pipe(), output = Pipe()
    let process = ChildProcess(
        URL(fileURLWithPath: CommandLine.arguments[0]), arguments: ["--upstream"], input: .pipe(input), output: .pipe(output))
    try process.run()
    guard let line = String(data: output.fileHandleForReading.availableData, encoding: .utf8),
        let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines))
    else { fatalError("the upstream process did not say its port") }
    return (process, input, "http://127.0.0.1:\(port)/v1")
}

/// `requests` requests through the server by a load process with `concurrency` clients: its wall time,
/// latencies and errors, and the CPU this process (the server) spent meanwhile.
func loadProcess(_ model: String, port: Int, requests: Int, concurrency: Int, stream: Bool) -> (seconds: Double, latencies: [Double], errors: Int, cpu: Double)
{
    let output = Pipe()
    let process = ChildProcess(
        URL(fileURLWithPath: CommandLine.arguments[0]),
        arguments: ["--load", String(port), model, String(requests), String(concurrency), stream ? "1" : "0"], input: .null, output: .pipe(output))
    let cpu = cpuSeconds()
    do { try process.run() } catch { fatalError("the load process did not start: \(error)") }
    let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let used = cpuSeconds() - cpu
    let fields = said.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
    guard process.terminationStatus == 0, fields.count >= 2 else { fatalError("the load process failed: \(said)") }
    return (fields[0], fields.dropFirst(2).sorted(), Int(fields[1]), used)
}

let upstream = try startUpstream()
let shapes: [(name: String, layers: String)] = [
    ("p1", "  - ensemble: [{ model: m, samples: 1 }]"),
    ("p6", "  - ensemble: [{ model: m, samples: 4 }]\n  - rank: { model: m, top_k: 2 }\n  - fuse: [m]"),
]
let options = RuntimeOptions(scheduler: CallScheduler())
var served: [ServedPipeline] = []
for shape in shapes {
    let runtime = try PipelineRuntime(pipeline: try pipeline(shape.name, layers: shape.layers, upstream: upstream.baseURL), options: options)
    served.append(ServedPipeline(name: shape.name, runtime: runtime, fingerprint: shape.name))
}
// For the disconnect measurement: four samples against an upstream that takes 30 s to answer.
let slowUpstream = try ScriptedLLMServer(latency: 30)
let slowRuntime = try PipelineRuntime(
    pipeline: try pipeline("slow", layers: "  - ensemble: [{ model: m, samples: 4 }]\n  - fuse: [m]", upstream: slowUpstream.baseURL), options: options)
served.append(ServedPipeline(name: "slow", runtime: slowRuntime, fingerprint: "slow"))
var serveOptions = ServeOptions()
serveOptions.port = 0
serveOptions.maxConcurrent = 64
let server = try StrataServer(pipelines: served, options: serveOptions)
let (ports, sink) = AsyncStream.makeStream(of: Int.self)
let serving = Task { try await server.run(signals: false) { sink.yield($0) } }
guard let port = await ports.first(where: { _ in true }) else { fatalError("the server did not start") }
let client = makeClient()
let load = ServeClient(port: port, client: client)

print(
    "ServeBenchmark: \(requests) requests a side per round, \(rounds) rounds, \(concurrency) concurrent clients, zero-latency upstream; "
        + "the upstream and the load client are processes of their own on the same two cores")
/// One shape, whole or streamed: in-process and through the server, in interleaved rounds. Two ratios:
/// throughput with everything sharing the machine, and CPU a request in this process (the capacity a
/// core has for the pipeline in-process and for the server).
func compare(_ name: String, runtime: PipelineRuntime, stream: Bool) async -> String {
    var direct: [(seconds: Double, latencies: [Double], cpu: Double)] = [], viaServe: [(seconds: Double, latencies: [Double], cpu: Double)] = []
    var errors = 0
    // Streamed: the runtime hands out the final layer's deltas, as it does for a streamed request.
    let onDelta: (@Sendable (String) -> Void)? = stream ? { @Sendable _ in } : nil
    _ = loadProcess(name, port: port, requests: 100, concurrency: concurrency, stream: stream)  // warm up both sides
    _ = await drive(100) { index in await runtime.run(Query(prompt: "question \(index)")).answer != nil }
    for round in 0..<rounds {
        // Alternate which side goes first, so drift in the machine's speed falls on both.
        for isDirect in round % 2 == 0 ? [true, false] : [false, true] {
            if isDirect {
                let cpu = cpuSeconds()
                let run = await drive(requests) { index in await runtime.run(Query(prompt: "question \(index)"), onDelta: onDelta).answer != nil }
                direct.append((run.seconds, run.latencies, cpuSeconds() - cpu))
                errors += run.errors
            } else {
                let run = loadProcess(name, port: port, requests: requests, concurrency: concurrency, stream: stream)
                viaServe.append((run.seconds, run.latencies, run.cpu))
                errors += run.errors
            }
        }
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    let directRate = median(direct.map { Double(requests) / $0.seconds }), serveRate = median(viaServe.map { Double(requests) / $0.seconds })
    let directCPU = median(direct.map { $0.cpu / Double(requests) }), serveCPU = median(viaServe.map { $0.cpu / Double(requests) })
    let directLatencies = direct.flatMap(\.latencies).sorted(), serveLatencies = viaServe.flatMap(\.latencies).sorted()
    let added50 = (percentile(serveLatencies, 0.5) - percentile(directLatencies, 0.5)) * 1000
    let added95 = (percentile(serveLatencies, 0.95) - percentile(directLatencies, 0.95)) * 1000
    return String(
        format: "%@ %@: in-process %.0f req/s, serve %.0f req/s (%.1f%%); CPU a request in-process %.0f µs, in the server %.0f µs "
            + "(capacity %.1f%%); added latency p50 %+.2f ms, p95 %+.2f ms; errors %d",
        name.uppercased(), stream ? "streamed" : "whole", directRate, serveRate, serveRate / directRate * 100, directCPU * 1e6, serveCPU * 1e6,
        directCPU / serveCPU * 100, added50, added95, errors)
}

/// The server's own cost per request, without queueing: one client, requests one after another, sides alternating.
func sequentialOverhead(_ name: String, runtime: PipelineRuntime) async -> String {
    var direct: [Double] = [], viaServe: [Double] = []
    for round in 0..<(quick ? 4 : 10) {
        for isDirect in round % 2 == 0 ? [true, false] : [false, true] {
            if isDirect {
                direct += await drive(100, concurrency: 1) { index in await runtime.run(Query(prompt: "one by one \(index)")).answer != nil }.latencies
            } else {
                viaServe += loadProcess(name, port: port, requests: 100, concurrency: 1, stream: false).latencies
            }
        }
    }
    direct.sort()
    viaServe.sort()
    return String(
        format: "%@ one client: in-process p50 %.2f ms, serve p50 %.2f ms; added p50 %+.2f ms, p95 %+.2f ms, p99 %+.2f ms",
        name.uppercased(), percentile(direct, 0.5) * 1000, percentile(viaServe, 0.5) * 1000,
        (percentile(viaServe, 0.5) - percentile(direct, 0.5)) * 1000, (percentile(viaServe, 0.95) - percentile(direct, 0.95)) * 1000,
        (percentile(viaServe, 0.99) - percentile(direct, 0.99)) * 1000)
}

var rssAfterComparisons = 0.0
for (shapeIndex, shape) in shapes.enumerated() {
    for stream in [false, true] {
        print(await compare(shape.name, runtime: served[shapeIndex].runtime, stream: stream))
    }
    print(await sequentialOverhead(shape.name, runtime: served[shapeIndex].runtime))
}
rssAfterComparisons = residentMegabytes()
/// How long after a client goes away its upstream calls are gone: the client's task is
/// cancelled (closing its connection) once the upstream holds all four calls.
func disconnectLatency(stream: Bool) async -> String {
    var delays: [Double] = []
    for index in 0..<(quick ? 5 : 20) {
        let client = Task { await load.request("slow", index, stream: stream) }
        while slowUpstream.inFlight < 4 { try? await Task.sleep(nanoseconds: 1_000_000) }
        let closed = now()
        client.cancel()
        while slowUpstream.inFlight > 0 { try? await Task.sleep(nanoseconds: 200_000) }
        delays.append(now() - closed)
        _ = await client.value
    }
    delays.sort()
    return String(
        format: "client disconnect (%@) to every upstream call closed: p50 %.1f ms, max %.1f ms over %d requests",
        stream ? "streamed" : "whole", percentile(delays, 0.5) * 1000, delays.last! * 1000, delays.count)
}
print(await disconnectLatency(stream: false))
print(await disconnectLatency(stream: true))

// Memory: the server's resident size after 1,000 and after 10,000 requests (the upstream clears its records).
_ = await drive(1000) { index in await load.request("p6", index, stream: index % 2 == 0) }
let afterOneThousand = residentMegabytes()
for _ in 0..<9 {
    _ = await drive(1000) { index in await load.request("p6", index, stream: index % 2 == 0) }
}
print(
    String(
        format: "resident memory: %.0f MB after the comparisons; through the server, %.0f MB after 1,000 more requests and %.0f MB after 10,000 (%+.0f MB)",
        rssAfterComparisons, afterOneThousand, residentMegabytes(), residentMegabytes() - afterOneThousand))
serving.cancel()
_ = await serving.result
try await client.shutdown().get()
try upstream.input.fileHandleForWriting.close()
upstream.process.waitUntilExit()
