import ArgumentParser
import Foundation
import Strata
import StrataPostgres

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline on one prompt, or on every item of a JSONL file.",
        discussion: """
            One query: --prompt TEXT prints the answer (--explain adds each layer's candidates, critiques, \
            rankings, verdicts and usage; --stream prints the final answer's tokens as they arrive).
            Batch: --input items.jsonl --output answers.jsonl. Each input line is {"id": …, "prompt": "…"} or \
            {"id": …, "messages": [{"role": "user", "content": "…"}]}, optionally with "tests". Answers are appended \
            as each item finishes; rerunning skips items already answered in the output, so a killed batch resumes \
            (--retry-failed runs failed items again; the last line for an id is its result). Exit status 0 means \
            every item has an answer; 1 that some remain (failed, or not reached).
            """
    )

    @Argument(help: "The pipeline file.")
    var pipeline: String

    @Option(help: "The question to answer.")
    var prompt: String?

    @Option(help: "A JSONL file of items to answer.")
    var input: String?

    @Option(help: "Where batch answers go (JSONL, appended).")
    var output: String?

    @Flag(help: "Print every layer's candidates, critiques, rankings, verdicts and usage.")
    var explain = false

    @Flag(help: "Stream the final answer's tokens as they arrive.")
    var stream = false

    @OptionGroup var telemetry: TelemetryOptions
    @OptionGroup var cacheOptions: CacheOptions
    @OptionGroup var includes: IncludeOptions

    @Option(help: "Write one JSON line per model call and step to this file.")
    var trace: String?

    @Option(
        help: ArgumentHelp(
            "Write every model call in time to this file, as Chrome trace events (open it in ui.perfetto.dev or chrome://tracing).",
            valueName: "file.json"))
    var timeline: String?

    @Option(help: "Batch items in flight at once (each still obeys every model's limits).")
    var concurrency: Int = 16

    @Flag(help: "Run again the items whose earlier result in --output is a failure.")
    var retryFailed = false

    func validate() throws {
        if (prompt == nil) == (input == nil) { throw ValidationError("give exactly one of --prompt and --input") }
        if input != nil, output == nil { throw ValidationError("--input needs --output") }
        if concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if let input, let output,
            URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath()
                == URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath()
        {
            throw ValidationError("--input and --output name the same file; answers go to a file of their own")
        }
    }

    func run() async throws {
        let result = includes.compiler.compileFile(path: pipeline)
        printDiagnostics(result.diagnostics, sources: result.sources, format: .text)
        guard let compiled = result.compiled else {
            writeError("\(pipeline): not run (\(summary(of: result.diagnostics)))")
            throw ExitCode(1)
        }
        let failed = try await telemetry.exporting { telemetry in
            let options = RuntimeOptions(
                cache: try cacheOptions.open(),
                trace: try trace.map { try TraceWriter(path: $0) },
                recordTimeline: timeline != nil, observer: telemetry?.observer)
            let runtime = try PipelineRuntime(compiled: compiled, options: options)
            let interrupt = InterruptHandler()
            let failed =
                if let prompt {
                    try await interrupt.run { await runOne(prompt, runtime: runtime) }
                } else {
                    try await interrupt.run { try await runBatch(runtime: runtime) }
                }
            try await runtime.shutdown()
            return failed
        }
        if failed { throw ExitCode(1) }
    }

    /// Returns whether the query failed.
    func runOne(_ prompt: String, runtime: PipelineRuntime) async -> Bool {
        let streamed = StreamedOutput()
        let showProgress = stream
        var onDelta: (@Sendable (String) -> Void)?
        if stream {
            onDelta = { @Sendable text in streamed.write(text) }
        }
        let onLayer: @Sendable (LayerReport) -> Void = { report in
            guard showProgress else { return }
            let seconds = String(format: "%.1f", report.usage.seconds)
            writeError("· layer \(report.index + 1) \(report.kind): \(report.candidates.count) candidate(s), \(report.usage.calls) call(s), \(seconds) s")
        }
        let result = await runtime.run(Query(prompt: prompt), onDelta: onDelta, onLayer: onLayer)
        writeTimeline([("query", result.timeline)])
        if explain { print(Explanation.render(result)) }
        if let answer = result.answer {
            if stream, streamed.wroteAnything { print("") } else if !explain { print(answer) }
        } else {
            writeError("no answer: \(result.failure ?? "unknown failure")")
        }
        for notice in result.notices { writeError("note: \(notice)") }
        writeError(Explanation.usageLine(result.usage))
        return result.answer == nil
    }

    /// Writes `--timeline`, if asked for; a failure to write it is said, not fatal.
    func writeTimeline(_ queries: [(id: String, spans: [CallSpan])]) {
        guard let timeline else { return }
        do {
            try OutputFile.write(Timeline.chromeTrace(queries), to: timeline)
        } catch {
            writeError("could not write the timeline to \(timeline): \(error.localizedDescription)")
        }
    }

    /// Returns whether any item is left without an answer.
    func runBatch(runtime: PipelineRuntime) async throws -> Bool {
        guard let input, let output else { return false }
        let job = BatchJob(
            runtime: runtime, input: input, output: output, concurrency: concurrency, retryFailed: retryFailed, keepsTimelines: timeline != nil)
        let plan = try job.plan()
        writeError("\(plan.items.count) items, \(plan.alreadyDone) already answered in \(output), \(plan.pending.count) to go")
        let progress = ProgressReporter(total: plan.items.count, alreadyDone: plan.alreadyDone)
        let outcome = try await job.run(plan, onItem: progress.finished)
        progress.close()
        writeTimeline(outcome.timelines)
        if let error = outcome.writeError { writeError("stopped: \(error); every line written before it is kept, and a rerun carries on") }
        if outcome.remaining > 0 {
            writeError(
                "\(outcome.remaining) item\(outcome.remaining == 1 ? "" : "s") without an answer; rerun to carry on"
                    + (outcome.failed > 0 || !retryFailed ? " (--retry-failed runs failed items again)" : ""))
        }
        return outcome.remaining > 0 || outcome.writeError != nil
    }
}
