// Measures the front end: checking and compiling every file in Pipelines/,
// and compiling a generated pipeline whose graph has over 100,000 call nodes.
// Run in release: `swift run -c release CompileBenchmark`.
import Foundation
import Strata

func peakResidentMegabytes() -> Double {
    // VmHWM: the peak resident set size of this process.
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return .nan }
    return kilobytes / 1024
}

func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

let root = CommandLine.arguments.dropFirst().first ?? FileManager.default.currentDirectoryPath
let pipelines = (FileManager.default.enumerator(atPath: "\(root)/Pipelines")?.allObjects as? [String] ?? [])
    .filter { $0.hasSuffix(".yaml") }.sorted().map { "\(root)/Pipelines/\($0)" }

// 1. Every example pipeline, checked and compiled, many rounds.
let compiler = PipelineCompiler()
let rounds = 200
var failures = 0
let allFiles = seconds {
    for _ in 0..<rounds {
        for file in pipelines where !compiler.check(path: file).diagnostics.isEmpty { failures += 1 }
    }
}
print(
    "Pipelines/: \(pipelines.count) files checked and compiled \(rounds)×: "
        + String(format: "%.2f ms per round, %.3f ms per file", allFiles / Double(rounds) * 1000, allFiles / Double(rounds * pipelines.count) * 1000)
        + (failures > 0 ? " (\(failures) files had diagnostics!)" : ""))

// 2. A generated pipeline with 100,000+ call nodes: 34,000 samples, each verified (2 calls).
let generated = """
    strata: 1
    models:
      m: { provider: openai-compatible, model: q, base_url: http://127.0.0.1:8080/v1, context_window: 32768, limits: { max_in_flight: 64 } }
    layers:
      - ensemble:
          - { model: m, samples: 34000 }
      - verify: { model: m, first_k: 1, on_empty: fail }
    """
var result: CompileResult?
let runs = 5
var times: [Double] = []
for _ in 0..<runs {
    times.append(seconds { result = compiler.compile(source: generated, path: "generated.yaml") })
}
guard let compiled = result?.compiled else {
    print("generated pipeline did not compile"); exit(1)
}
let callNodes = compiled.graph.nodes.filter(\.operation.isCall).count
times.sort()
print(
    "Generated pipeline: \(callNodes) call nodes, \(compiled.graph.nodes.count) nodes in all: "
        + String(format: "compile %.3f s (median of %d; best %.3f s), peak RSS %.0f MB", times[runs / 2], runs, times[0], peakResidentMegabytes()))
