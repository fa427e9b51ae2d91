// A 10,000-trial study, generated into a SQLite study store, opened in the
// studio (the release `strata` binary beside this one) in headless Chromium:
// the seconds until the history and the trial table are drawn, and the
// studio's memory. Run: `swift build -c release --product strata &&
// swift run -c release StudioBenchmark [--trials N] [--loads N]`.
import Foundation
import Strata
import StrataSandbox
import StrataSearch

func argument(_ name: String, _ fallback: Int) -> Int {
    CommandLine.arguments.firstIndex(of: name).flatMap { Int(CommandLine.arguments[$0 + 1]) } ?? fallback
}
let trials = argument("--trials", 10_000), loads = argument("--loads", 5)
let root = FileManager.default.currentDirectoryPath
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("studio-benchmark-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
let keep = CommandLine.arguments.contains("--keep")
defer { if !keep { try? FileManager.default.removeItem(at: directory) } }

// The study: five axes (10,000 distinct configurations), objectives that depend on two of them.
let path = directory.appendingPathComponent("studies.sqlite").path
let store = try SQLiteStudyStore(path: path)
let study = StudyDescriptor(id: "bench", name: "ten-thousand", spacePath: "space.yaml", settings: "{}")
try await store.open(study)
var generator = SystemRandomNumberGenerator()
let written = Date()
for number in 0..<trials {
    let samples = number % 10 + 1, temperature = ["0.2", "0.4", "0.6", "0.8", "1.0"][number / 10 % 5], fuse = number / 50 % 2 == 0
    let model = ["a", "b", "c", "d"][number / 100 % 4], variant = number / 400
    let score = min(1, Double(samples) / 12 + (fuse ? 0.1 : 0) + Double.random(in: 0..<0.1, using: &generator))
    try await store.record(
        TrialRecord(
            number: number,
            configuration: Configuration([
                "samples": .int(samples), "temperature": .number(temperature), "fuse": .bool(fuse), "model": .string(model), "variant": .int(variant),
            ]), phase: .dev, fidelity: 20, status: .complete,
            outcome: TrialOutcome(score: score, items: 20, issuedCalls: samples * 20, usd: Double(samples) * 0.001), error: nil,
            objective: score, staticCalls: samples + (fuse ? 1 : 0), staticUSD: Double(samples) * 0.00005),
        study: study.id)
}
print(String(format: "StudioBenchmark: %d trials written in %.1f s", trials, Date().timeIntervalSince(written)))

let strata = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("strata")
guard FileManager.default.isExecutableFile(atPath: strata.path) else {
    print("build the studio first: swift build -c release --product strata")
    exit(1)
}
let log = directory.appendingPathComponent("studio.log")
FileManager.default.createFile(atPath: log.path, contents: nil)
let studio = ChildProcess(
    strata, arguments: ["studio", "--store", path, "--port", "0"], directory: directory, output: .null,
    error: .handle(try FileHandle(forWritingTo: log)))
try studio.run()
defer { studio.terminate() }
var address: String?
for _ in 0..<600 where address == nil {
    let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    address = text.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression).map { String(text[$0]) }
    try await Task.sleep(for: .milliseconds(50))
}
guard let url = address else { print("the studio did not start"); exit(1) }

func memory(_ field: String) -> Double {
    let status = (try? String(contentsOfFile: "/proc/\(studio.processIdentifier)/status", encoding: .utf8)) ?? ""
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return .nan }
    return kilobytes / 1024
}

let output = Pipe()
let browser = ChildProcess(
    URL(fileURLWithPath: "\(root)/.local-llm/venv/bin/python"),
    arguments: ["\(root)/Benchmarks/StudioBenchmark/open.py", url, study.id, String(loads)], output: .pipe(output))
try browser.run()
let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
browser.waitUntilExit()
let runs = said.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
guard runs.count == loads else {
    print("the browser did not finish: \(said)")
    exit(1)
}
let seconds = runs.compactMap { $0["seconds"] as? Double }
let warm = seconds.dropFirst().sorted()
print(
    String(
        format: "opened in headless Chromium: first load %.2f s, then median %.2f s (max %.2f s) over %d loads; %@ history points, %@ table rows drawn (%@)",
        seconds[0], warm.isEmpty ? seconds[0] : warm[warm.count / 2], seconds.max() ?? 0, loads, "\(runs[0]["history_points"] ?? 0)",
        "\(runs[0]["rows"] ?? 0)", "\(runs[0]["shown"] ?? "")"))
print(String(format: "studio memory: resident %.0f MB now, peak %.0f MB", memory("VmRSS:"), memory("VmHWM:")))
if keep { print("kept \(path)") }
