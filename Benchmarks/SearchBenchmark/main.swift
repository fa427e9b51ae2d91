// Compares the search algorithms on an objective whose optimum is known.
//
//   swift run -c release SearchBenchmark [--seeds 50] [--within 150]
//
// With --workers 1,2,4,8 it measures instead workers sharing one study in
// PostgreSQL (--store postgres://…, default scripts/test-postgres's cluster):
// TPE with the same seed on every worker, each evaluation taking --delay
// seconds (standing in for model time), until one worker evaluates the
// optimum; wall-clock time and evaluations to the optimum against one worker.
// Each worker is a process of its own (this executable, started with
// --worker-process), with its own connections; the clock starts when every
// worker has compiled the space and says it is ready. --in-process runs the
// workers as tasks of this process instead.
//
//   scripts/test-postgres start
//   swift run -c release SearchBenchmark --workers 1,2,4,8 --seeds 10 --delay 0.05
//
// The space is the paper's six axes (Pipelines/searches/archon-paper-space.yaml:
// top-k of five ranked generators, 1-5 samples, 1-4 fusion rounds, 2-10 fusers
// per non-final round, optional critique+rank, none/verify/unit-test), checked
// and compiled by Strata with a 30-call budget per query: 1,349 of its 2,400
// configurations are feasible. Each algorithm runs through the real `Search`
// (study store, proposals, bookkeeping) with a synthetic evaluator standing in
// for model scores, so many seeds take seconds.
//
// The synthetic objective (higher is better), with interactions between axes:
//   generators: the mean quality of the k models used (0.60, 0.58, 0.52, 0.50,
//     0.40 down the ranked list) + 0.035·log2(k) for diversity;
//   samples: 0.03·log2(s), half as much again with a verifier to filter them;
//   fusion rounds: each extra round (up to two) adds 0.045 with critique but
//     only 0.005 without; a fourth round costs 0.02;
//   fusers (non-final rounds): 0.02 − 0.0015·(F − 6)², best at 6;
//   critique: +0.02 when the ensemble's pool (k·s) is at least 6, −0.015 below;
//   verify: +0.025 when the pool is at least 8, −0.01 below; unit-test: +0.01;
//   plus Gaussian noise (σ = 0.01) drawn afresh for every evaluation.
// The budget makes the best pool size trade off against rounds and fusers,
// so no axis can be optimized alone.
import Foundation
import Strata
import StrataPostgres
import StrataSandbox
import Synchronization

struct Options {
    var seeds = 50
    var within = 150
    var workers: [Int] = []
    var delay = 0.05
    var store = "postgres://strata@127.0.0.1:55432/postgres?sslmode=disable"
    var inProcess = false
    /// Set in a worker process: which run, seed and worker it is.
    var workerProcess: (run: String, seed: Int, index: Int, optimum: Int)?
    init() {
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            switch argument {
            case "--seeds": seeds = Int(arguments.next() ?? "") ?? seeds
            case "--within": within = Int(arguments.next() ?? "") ?? within
            case "--workers": workers = (arguments.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--delay": delay = Double(arguments.next() ?? "") ?? delay
            case "--store": store = arguments.next() ?? store
            case "--in-process": inProcess = true
            case "--worker-process":
                let fields = (arguments.next() ?? "").split(separator: ",")
                if fields.count == 4, let seed = Int(fields[1]), let index = Int(fields[2]), let optimum = Int(fields[3]) {
                    workerProcess = (String(fields[0]), seed, index, optimum)
                }
            default: break
            }
        }
    }
}

enum Synthetic {
    static let quality = [0.60, 0.58, 0.52, 0.50, 0.40]

    static func trueScore(_ configuration: Configuration) -> Double {
        guard case .list(let models)? = configuration["generators"], case .int(let s)? = configuration["samples"],
            case .int(let rounds)? = configuration["fuse_layers"], case .bool(let critique)? = configuration["critique"],
            case .string(let verifier)? = configuration["verifier"]
        else { return 0 }
        let k = models.count
        let pool = k * s
        var score = quality.prefix(k).reduce(0, +) / Double(k) + 0.035 * log2(Double(k))
        score += 0.03 * log2(Double(s)) * (verifier == "verify" ? 1.5 : 1)
        if rounds > 1 {
            score += (critique ? 0.045 : 0.005) * Double(min(rounds - 1, 2)) - 0.02 * Double(max(0, rounds - 3))
            if case .int(let fusers)? = configuration["fusers"] { score += 0.02 - 0.0015 * pow(Double(fusers - 6), 2) }
        }
        if critique { score += pool >= 6 ? 0.02 : -0.015 }
        if verifier == "verify" { score += pool >= 8 ? 0.025 : -0.01 }
        if verifier == "unit-test" { score += 0.01 }
        return score
    }
}

/// Scores configurations with the synthetic objective plus fresh noise, and
/// stops the search the moment the known optimum is evaluated.
final class SyntheticEvaluator: TrialEvaluator, @unchecked Sendable {
    let optimum: String
    let seed: UInt64
    var evaluations = 0
    var foundAt: Int?
    var generator: SeededGenerator

    init(optimum: String, seed: UInt64) {
        self.optimum = optimum
        self.seed = seed
        generator = SeededGenerator(seed: seed &* 7919 &+ 17)
    }

    var dataIdentity: String { "synthetic \(seed)" }
    var devItems: Int { 1 }
    var holdoutItems: Int { 0 }

    func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, items: Int, meter: SpendMeter) async throws -> TrialOutcome {
        evaluations += 1
        if pipeline.configuration.key == optimum {
            foundAt = evaluations
            throw SearchStopped(reason: "found the optimum")
        }
        // Box–Muller from the seeded generator: the same seed, the same noise.
        let u1 = max(Double.random(in: 0..<1, using: &generator), 1e-12), u2 = Double.random(in: 0..<1, using: &generator)
        let noise = 0.01 * sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
        return TrialOutcome(score: Synthetic.trueScore(pipeline.configuration) + noise, items: 1)
    }
}

/// Evaluates for `delay` seconds each, counting evaluations across every
/// worker, and stops the study the moment the optimum is evaluated.
final class SharedSyntheticEvaluator: TrialEvaluator {
    struct State {
        var evaluations = 0
        var foundAt: Int?
        var foundTime: Date?
        var generator: SeededGenerator
    }
    let optimum: String
    let run: String
    let delay: Double
    let state: Mutex<State>
    /// Hears when each evaluation starts, and when the optimum was found (a worker process prints it).
    let say: (@Sendable (String) -> Void)?

    init(optimum: String, run: String, seed: UInt64, delay: Double, say: (@Sendable (String) -> Void)? = nil) {
        self.optimum = optimum
        self.run = run
        self.delay = delay
        self.say = say
        state = Mutex(State(generator: SeededGenerator(seed: seed &* 7919 &+ 17)))
    }

    var dataIdentity: String { "synthetic shared \(run)" }
    var devItems: Int { 1 }
    var holdoutItems: Int { 0 }

    func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, items: Int, meter: SpendMeter) async throws -> TrialOutcome {
        let number = state.withLock {
            $0.evaluations += 1
            return $0.evaluations
        }
        let began = Date()
        say?("started \(began.timeIntervalSince1970)")
        try await Task.sleep(for: .seconds(delay))
        if pipeline.configuration.key == optimum {
            state.withLock {
                if $0.foundAt == nil { ($0.foundAt, $0.foundTime) = (number, Date()) }
            }
            say?("found \(began.timeIntervalSince1970) \(Date().timeIntervalSince1970)")
            throw SearchStopped(reason: "found the optimum")
        }
        let noise = state.withLock { state -> Double in
            let u1 = max(Double.random(in: 0..<1, using: &state.generator), 1e-12), u2 = Double.random(in: 0..<1, using: &state.generator)
            return 0.01 * sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
        }
        return TrialOutcome(score: Synthetic.trueScore(pipeline.configuration) + noise, items: 1)
    }
}

/// N workers (each with its own connections, as on N machines) on one fresh study until the optimum is found.
func sharedRun(plan: SearchPlan, optimum: String, workers: Int, seed: Int, options: Options) async throws -> (seconds: Double, evaluations: Int) {
    if !options.inProcess {
        let index = plan.feasible.firstIndex { $0.configuration.key == optimum }!
        return try await processRun(optimum: index, workers: workers, seed: seed, options: options)
    }
    let location = try PostgresLocation(url: options.store)
    let evaluator = SharedSyntheticEvaluator(optimum: optimum, run: UUID().uuidString, seed: UInt64(seed), delay: options.delay)
    let start = Date()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<workers {
            group.addTask {
                try await work(plan: plan, evaluator: evaluator, seed: seed, index: index, location: location)
            }
        }
        try await group.waitForAll()
    }
    let found = evaluator.state.withLock { ($0.foundAt, $0.foundTime) }
    return ((found.1 ?? Date()).timeIntervalSince(start), found.0 ?? plan.feasible.count + 1)
}

/// One worker on the run's study, until the study stops.
func work(plan: SearchPlan, evaluator: SharedSyntheticEvaluator, seed: Int, index: Int, location: PostgresLocation) async throws {
    let database = try await PostgresStore.open(location)
    defer { database.close() }
    let store = PostgresStudyStore(database: database)
    let search = Search(plan: plan, settings: SearchSettings(algorithm: .tpe, seed: UInt64(seed)), evaluator: evaluator, store: store)
    _ = try await search.runWorker(store: store, worker: WorkerOptions(id: "bench-\(index)", leaseTTL: 30, heartbeat: 5, poll: 0.01))
}

/// The same run with each worker a process of its own. Each says when it
/// started every evaluation and when it found the optimum; evaluations to
/// the optimum are those started, by any worker, before the optimum's.
func processRun(optimum: Int, workers: Int, seed: Int, options: Options) async throws -> (seconds: Double, evaluations: Int) {
    let run = UUID().uuidString
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("search-benchmark-\(run)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    var processes: [(process: ChildProcess, go: Pipe, output: URL)] = []
    for index in 0..<workers {
        let output = directory.appendingPathComponent("\(index).out")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let go = Pipe()
        let process = ChildProcess(
            URL(fileURLWithPath: CommandLine.arguments[0]),
            arguments: ["--worker-process", "\(run),\(seed),\(index),\(optimum)", "--store", options.store, "--delay", String(options.delay)],
            input: .pipe(go), output: .handle(try FileHandle(forWritingTo: output)))
        try process.run()
        processes.append((process, go, output))
    }
    func lines(_ url: URL) -> [Substring] { ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n") }
    // Compiling the space takes each process a while; the clock starts when all are ready.
    while !processes.allSatisfy({ lines($0.output).contains("ready") }) {
        guard processes.allSatisfy({ $0.process.isRunning }) else { throw BenchmarkError("a worker process exited before it was ready") }
        try await Task.sleep(for: .milliseconds(10))
    }
    let start = Date().timeIntervalSince1970
    for worker in processes { worker.go.fileHandleForWriting.write(Data("go\n".utf8)) }
    for worker in processes {
        while worker.process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        guard worker.process.terminationStatus == 0 else { throw BenchmarkError("a worker process exited with \(worker.process.terminationStatus)") }
    }
    let said = processes.flatMap { lines($0.output) }
    let starts = said.compactMap { $0.hasPrefix("started ") ? Double($0.dropFirst(8)) : nil }
    guard let found = said.first(where: { $0.hasPrefix("found ") })?.split(separator: " "), found.count == 3,
        let foundStart = Double(found[1]), let foundEnd = Double(found[2])
    else { return (Date().timeIntervalSince1970 - start, starts.count + 1) }
    return (foundEnd - start, starts.filter { $0 < foundStart }.count + 1)
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

let options = Options()
if let worker = options.workerProcess {
    // A worker process of processRun: compile, say so, wait for the start, work.
    let plan = SearchPlan(space: SearchSpaceLoader.load(path: "Pipelines/searches/archon-paper-space.yaml").space!)
    let evaluator = SharedSyntheticEvaluator(
        optimum: plan.feasible[worker.optimum].configuration.key, run: worker.run, seed: UInt64(worker.seed &* 31 &+ worker.index),
        delay: options.delay, say: { FileHandle.standardOutput.write(Data("\($0)\n".utf8)) })
    FileHandle.standardOutput.write(Data("ready\n".utf8))
    _ = readLine()
    try await work(plan: plan, evaluator: evaluator, seed: worker.seed, index: worker.index, location: try PostgresLocation(url: options.store))
    exit(0)
}
let loaded = SearchSpaceLoader.load(path: "Pipelines/searches/archon-paper-space.yaml")
guard let space = loaded.space else {
    print(DiagnosticRenderer(sources: loaded.sources).render(loaded.diagnostics))
    exit(1)
}
var clock = Date()
let plan = SearchPlan(space: space)
print(String(format: "space: %d configurations, %d feasible (checked and compiled in %.2f s)", plan.size, plan.feasible.count, Date().timeIntervalSince(clock)))
let ranked = plan.feasible.map { ($0.configuration, Synthetic.trueScore($0.configuration)) }.sorted { $0.1 > $1.1 }
let optimum = ranked[0]
print(
    String(
        format: "optimum: %@ (true score %.4f; runner-up %.4f; %d calls per query)", optimum.0.key, optimum.1, ranked[1].1,
        plan.feasible.first { $0.configuration == optimum.0 }?.cost?.total.calls ?? 0))
if !options.workers.isEmpty {
    print(
        "workers on one study in PostgreSQL (\((try? PostgresLocation(url: options.store))?.description ?? options.store)); TPE; \(options.delay) s per evaluation; seeds 0..<\(options.seeds)\n"
    )
    print("| workers | mean seconds to the optimum | speed-up | mean evaluations to the optimum | × one worker's |")
    print("| --- | --- | --- | --- | --- |")
    var baseline: (seconds: Double, evaluations: Double)?
    for workers in options.workers {
        var seconds: [Double] = [], evaluations: [Int] = []
        for seed in 0..<options.seeds {
            let run = try await sharedRun(plan: plan, optimum: optimum.0.key, workers: workers, seed: seed, options: options)
            seconds.append(run.seconds)
            evaluations.append(run.evaluations)
        }
        let meanSeconds = seconds.reduce(0, +) / Double(seconds.count)
        let meanEvaluations = Double(evaluations.reduce(0, +)) / Double(evaluations.count)
        if baseline == nil { baseline = (meanSeconds, meanEvaluations) }
        print(
            String(
                format: "| %d | %.2f | %.2f× | %.1f | %.2f |", workers, meanSeconds, baseline!.seconds / meanSeconds, meanEvaluations,
                meanEvaluations / baseline!.evaluations))
    }
    exit(0)
}
print("seeds: \(options.seeds); 'within' = found in at most \(options.within) evaluations\n")
print("| algorithm | mean evaluations to the optimum | median | 90th percentile | found within \(options.within) | seconds |")
print("| --- | --- | --- | --- | --- | --- |")
var means: [SearchAlgorithm: Double] = [:]
for algorithm in [SearchAlgorithm.random, .grid, .greedy, .tpe] {
    clock = Date()
    var counts: [Int] = []
    let seeds = algorithm == .grid ? 1 : options.seeds
    for seed in 0..<seeds {
        let evaluator = SyntheticEvaluator(optimum: optimum.0.key, seed: UInt64(seed))
        let search = Search(
            plan: plan, settings: SearchSettings(algorithm: algorithm, seed: UInt64(seed)), evaluator: evaluator,
            store: InMemoryStudyStore())
        _ = try await search.run()
        counts.append(evaluator.foundAt ?? plan.feasible.count + 1)
    }
    let sorted = counts.sorted()
    let mean = Double(counts.reduce(0, +)) / Double(counts.count)
    means[algorithm] = mean
    let within = Double(counts.filter { $0 <= options.within }.count) / Double(counts.count)
    print(
        String(
            format: "| %@ | %.1f | %d | %d | %.0f%% | %.1f |", algorithm.rawValue + (algorithm == .grid ? " (deterministic, 1 run)" : ""), mean,
            sorted[sorted.count / 2], sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.9))], within * 100, Date().timeIntervalSince(clock)))
}
print(
    String(
        format: "\ntpe needs %.1f%% of random search's evaluations (target ≤ 20%%) and %.1f%% of greedy's.",
        100 * means[.tpe]! / means[.random]!, 100 * means[.tpe]! / means[.greedy]!))
