import ArgumentParser
import Foundation
import Strata

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a pipeline on a dataset.",
        discussion: """
        Results go to a SQLite run store: a killed eval resumes, a finished one is a cache hit. \
        Formats: humaneval (also .jsonl.gz), gsm8k, reasoning-gym, mtbench, jsonl (use --field to map fields). \
        Scorers: exact, normalized, numeric, regex:PATTERN, contains, code (default by format).
        """
    )

    @Argument(help: "The pipeline file.")
    var pipeline: String

    @OptionGroup var data: DatasetOptions

    @Option(help: "Evaluate a deterministic split, e.g. dev:0.2 or test:0.2 (the fraction is the dev share).")
    var split: String?

    @Option(help: "The split's seed.")
    var seed: Int = 0

    @Option(help: "Evaluate at most this many items (after the split).")
    var limit: Int?

    @Option(help: "Evaluate only these item ids (comma-separated).")
    var items: String?

    @Option(help: "The run store's SQLite file.")
    var store = ".strata/runs.sqlite"

    @OptionGroup var cacheOptions: CacheOptions
    @OptionGroup var includes: IncludeOptions

    @Option(help: "Items in flight at once.")
    var concurrency: Int = 8

    @Option(help: "Another pipeline to run on the same items, compared with a paired test.")
    var compare: String?

    @Option(help: "Output: text or json.")
    var format: DiagnosticFormat = .text

    @Option(help: "The judge pipeline for --scorer judge or pairwise (its answer is the judgement).")
    var judge: String?

    @Option(help: "A file holding the judge's prompt ({question}, {answer}, {reference}; pairwise: {answer_a}, {answer_b}).")
    var judgePrompt: String?

    @Option(help: "The baseline pipeline for --scorer pairwise.")
    var baseline: String?

    @Option(help: "Also write one self-contained HTML page: summary, score-vs-cost plot, per-item drill-down.")
    var report: String?

    func validate() throws {
        if data.dataset == nil { throw ValidationError("Missing expected argument '--dataset <dataset>'") }
    }

    func run() async throws {
        let loaded = try data.load()
        let dataset = data.dataset ?? ""
        let scorer = data.scorer
        var selected = loaded.items
        var selection: [String] = []
        if let split {
            guard let parsed = DatasetSplit(split, seed: seed) else { throw ValidationError("--split takes dev:FRACTION or test:FRACTION") }
            selected = parsed.apply(selected)
            selection.append("split \(parsed)")
        }
        if let items {
            let wanted = Set(items.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            selected = selected.filter { wanted.contains($0.id) }
            selection.append("items \(wanted.sorted().joined(separator: ","))")
        }
        if let limit {
            selected = Array(selected.prefix(limit))
            selection.append("limit \(limit)")
        }
        let scoring: Scorer
        var helpers: [PipelineRuntime] = []
        if let scorer, scorer == "judge" || scorer == "pairwise" {
            guard let judge else { throw ValidationError("--scorer \(scorer) needs --judge JUDGE_PIPELINE") }
            let prompt = try judgePrompt.map { try String(contentsOfFile: $0, encoding: .utf8) }
            let judgeRuntime = try Self.runtime(for: judge, cache: try cacheOptions.open(), compiler: includes.compiler)
            helpers.append(judgeRuntime)
            let judgeConfig = Judge(runtime: judgeRuntime, prompt: prompt, name: (judge as NSString).lastPathComponent)
            if scorer == "judge" {
                scoring = .judge(judgeConfig)
            } else {
                guard let baseline else { throw ValidationError("--scorer pairwise needs --baseline PIPELINE") }
                let baselineRuntime = try Self.runtime(for: baseline, cache: try cacheOptions.open(), compiler: includes.compiler)
                helpers.append(baselineRuntime)
                scoring = .pairwise(judgeConfig, baseline: baselineRuntime, baselineName: (baseline as NSString).lastPathComponent)
            }
        } else {
            scoring = try data.plainScorer(for: loaded)
        }
        let runStore = try RunStore(path: store)
        let responseCache = try cacheOptions.open()
        var summaries: [(String, EvalSummary, [ItemResult])] = []
        for path in [pipeline] + (compare.map { [$0] } ?? []) {
            let compiled = includes.compiler.compile(path: path)
            printDiagnostics(compiled.diagnostics, sources: compiled.sources, format: .text)
            guard let program = compiled.compiled else {
                writeError("\(path): not evaluated (\(summary(of: compiled.diagnostics)))")
                throw ExitCode(1)
            }
            let pipelineHash = ContentHash.sha256(compiled.sources.all.map { "\($0.path)\n\($0.text)" }.joined(separator: "\n\u{0}"))
            let key = RunKey(pipelineHash: pipelineHash, datasetHash: loaded.hash, scorer: scoring.description,
                             selection: selection.joined(separator: "; "))
            try runStore.begin(key, pipelinePath: path, pipelineYAML: compiled.sources[path]?.text ?? "", datasetPath: dataset, items: selected.count)
            let runtime = try PipelineRuntime(compiled: program, options: RuntimeOptions(cache: responseCache))
            let progress = EvalProgress(total: selected.count, label: program.pipeline.name ?? path)
            let evaluator = Evaluator(runtime: runtime, scorer: scoring, store: runStore, concurrency: concurrency)
            let results = try await evaluator.evaluate(selected, run: key.id) { progress.finished($0) }
            progress.close()
            try await runtime.shutdown()
            summaries.append((path, EvalSummary(pipeline: program.pipeline.name ?? path, results: results), results))
        }
        for helper in helpers { try await helper.shutdown() }
        let comparison = summaries.count == 2 ? PairedComparison(summaries[0].2, summaries[1].2) : nil
        if let report {
            let page = HTMLReport.render(title: "Strata eval: " + summaries.map(\.1.pipeline).joined(separator: " vs "), dataset: dataset,
                                         scorer: scoring.description, runs: summaries.map { HTMLReport.Run(summary: $0.1, results: $0.2) },
                                         items: selected, comparison: comparison)
            try page.write(toFile: report, atomically: true, encoding: .utf8)
            writeError("report written to \(report)")
        }
        switch format {
        case .json:
            struct Report: Encodable {
                var dataset: String
                var scorer: String
                var items: Int
                var runs: [EvalSummary]
                var comparison: PairedComparison?
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let report = Report(dataset: dataset, scorer: scoring.description, items: selected.count, runs: summaries.map(\.1), comparison: comparison)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        case .text:
            print(EvalReport.text(summaries.map(\.1), comparison: comparison, dataset: dataset, scorer: scoring.description))
        }
    }

    /// A runtime for a helper pipeline (judge, baseline), sharing the response cache.
    static func runtime(for path: String, cache: ResponseCache, compiler: PipelineCompiler) throws -> PipelineRuntime {
        let result = compiler.compile(path: path)
        printDiagnostics(result.diagnostics, sources: result.sources, format: .text)
        guard let compiled = result.compiled else {
            writeError("\(path): not usable (\(summary(of: result.diagnostics)))")
            throw ExitCode(1)
        }
        return try PipelineRuntime(compiled: compiled, options: RuntimeOptions(cache: cache))
    }

}

/// The dataset options shared by `eval` and `search` (optional for `search --dry-run`).
struct DatasetOptions: ParsableArguments {
    @Option(help: "The dataset file (JSONL, or gzip-compressed JSONL).")
    var dataset: String?

    @Option(help: "The dataset's format: \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var datasetFormat: DatasetFormat = .auto

    @Option(help: "Map a field for jsonl datasets: query=FIELD, reference=FIELD, tests=FIELD or id=FIELD.")
    var field: [String] = []

    @Option(help: "How answers are scored (default: by the dataset's format).")
    var scorer: String?

    func load() throws -> (items: [DatasetItem], hash: String, format: DatasetFormat) {
        guard let dataset else { throw ValidationError("Missing expected argument '--dataset <dataset>'") }
        var mapping = FieldMapping()
        for assignment in field {
            let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--field takes NAME=FIELD, not '\(assignment)'") }
            switch parts[0] {
            case "query": mapping.query = parts[1]
            case "reference": mapping.reference = parts[1]
            case "tests": mapping.tests = parts[1]
            case "id": mapping.id = parts[1]
            default: throw ValidationError("--field names query, reference, tests or id, not '\(parts[0])'")
            }
        }
        do {
            return try DatasetLoader.load(path: dataset, format: datasetFormat, fields: mapping)
        } catch {
            writeError("\(error)")
            throw ExitCode(1)
        }
    }

    /// The scorer asked for, or the dataset's default (judge scorers are set up by `eval`).
    func plainScorer(for loaded: (items: [DatasetItem], hash: String, format: DatasetFormat)) throws -> Scorer {
        if let scorer {
            guard let parsed = Scorer(scorer) else { throw ValidationError("unknown scorer '\(scorer)'") }
            return parsed
        }
        return loaded.items.first.map { Self.defaultScorer(for: $0, format: loaded.format) } ?? .normalized
    }

    static func defaultScorer(for item: DatasetItem, format: DatasetFormat) -> Scorer {
        if item.tests != nil, item.codePrefix != nil { return .code }
        if let reference = item.reference, AnswerExtractor.extract(.numeric, from: reference) == reference.trimmingCharacters(in: .whitespaces) {
            return .numeric
        }
        return Scorer.default(for: format)
    }
}

extension DatasetFormat: ExpressibleByArgument {}

/// The text report of one or two runs.
enum EvalReport {
    static func text(_ runs: [EvalSummary], comparison: PairedComparison?, dataset: String, scorer: String) -> String {
        var out = "\(dataset), scored by \(scorer)\n\n"
        let header = ["pipeline", "items", "score", "95% interval", "failed", "calls/item sent of asked", "tokens in/out per item", "USD/item", "p50 s", "p95 s"]
        var rows: [[String]] = []
        for run in runs {
            rows.append([run.pipeline, String(run.items), String(format: "%.3f", run.mean),
                         String(format: "%.3f–%.3f (%@)", run.intervalLow, run.intervalHigh, run.intervalMethod), String(run.failures),
                         String(format: "%.1f of %.1f", run.callsPerItem, run.requestedCallsPerItem), String(format: "%.0f / %.0f", run.inputTokensPerItem, run.outputTokensPerItem),
                         String(format: "%.5f", run.usdPerItem), String(format: "%.1f", run.latencyP50), String(format: "%.1f", run.latencyP95)])
        }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        out += line(header) + "\n" + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in rows { out += line(row) + "\n" }
        for run in runs where !run.failureReasons.isEmpty {
            out += "\nfailures of \(run.pipeline):\n"
            for (reason, count) in run.failureReasons.sorted(by: { $0.value > $1.value }) { out += "  \(count) × \(reason)\n" }
        }
        if let comparison {
            out += String(format: "\npaired on %d shared items: %.3f vs %.3f; only the first right on %d, only the second on %d; %@ p = %.4f\n",
                          comparison.shared, comparison.meanA, comparison.meanB, comparison.onlyA, comparison.onlyB, comparison.test, comparison.pValue)
        }
        return out
    }
}

/// done/total, ETA and running score on standard error.
final class EvalProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int
    private let label: String
    private var done = 0
    private var scoreSum = 0.0
    private var usd = 0.0
    private let start = Date()
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastPrinted = Date.distantPast

    init(total: Int, label: String) {
        self.total = total
        self.label = label
    }

    func finished(_ result: ItemResult) {
        lock.withLock {
            done += 1
            scoreSum += result.score
            usd += result.usage.usd
            let now = Date()
            guard isTerminal || now.timeIntervalSince(lastPrinted) > 5 || done == total else { return }
            lastPrinted = now
            let rate = Double(done) / max(0.001, now.timeIntervalSince(start))
            let line = String(format: "%@: %d/%d new  %.2f items/s  ETA %.0fs  running score %.3f  $%.4f", label, done, total, rate,
                              rate > 0 ? Double(total - done) / rate : 0, scoreSum / Double(done), usd)
            FileHandle.standardError.write(Data((isTerminal ? "\r" + line : line + "\n").utf8))
        }
    }

    func close() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
