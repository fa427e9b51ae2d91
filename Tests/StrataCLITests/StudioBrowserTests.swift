import Foundation
import StrataEval
import StrataSandbox
import StrataSearch
import StrataStudio
import StrataTestServer
import StrataTestSupport
import Testing

/// `strata studio` in a real browser: a study written by a real search against
/// the test server, opened in headless Chromium through Selenium
/// (`Tests/Browser/studio.py`), checked against the store, and followed live
/// while a second search writes more trials. Screenshots are kept in
/// `.build/test-artifacts/studio/`.
@Suite struct StudioBrowserTests {
    static let python = packageRoot.appendingPathComponent(".local-llm/venv/bin/python").path
    static let canDrive =
        EvalReportTests.chromium != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
        && FileManager.default.isExecutableFile(atPath: python)

    @Test(.enabled(if: canDrive, "chromium, chromedriver or Selenium is missing: scripts/test installs them"))
    func aStudyRendersWithItsNumbersAndFollowsALiveSearch() async throws {
        // A sample is right for two seeds in three (varying with the item), so configurations score differently.
        let dataset = packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path
        let answers = try String(contentsOfFile: dataset, encoding: .utf8).split(separator: "\n").compactMap { line -> (String, String)? in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let question = object["question"] as? String, let answer = object["answer"]
            else { return nil }
            return (String(question.prefix(60)), "\(answer)")
        }
        let server = try ScriptedLLMServer { request, _ in
            let answer = answers.first { request.promptText.contains($0.0) }?.1 ?? "0"
            return .text((request.promptText.count + (request.seed ?? 1)) % 3 != 0 ? "#### \(answer)" : "#### 7")
        }
        let directory = try temporaryDirectory()
        try """
        strata-search: 1
        axes:
          samples: [1, 2, 3, 4, 5]
          narrow: [none, vote]
          fuse: [false, true]
        pipeline:
          models:
            m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)", limits: { max_in_flight: 8 } }
          defaults: { max_tokens: 32 }
          layers:
            - ensemble: [{ model: m, samples: $samples }]
            - { $if: narrow == 'vote', vote: { extractor: numeric } }
            - { $if: fuse, fuse: [m] }
        """.write(to: directory.appendingPathComponent("space.yaml"), atomically: true, encoding: .utf8)
        func search(trials: Int) async throws {
            let outcome = try await StrataBinary.run(
                ["search", "space.yaml", "--dataset", dataset, "--dev-limit", "6", "--holdout-limit", "3", "--trials", String(trials), "--seed", "3"],
                in: directory)
            #expect(outcome.status == 0, "\(outcome.stderr)")
        }
        try await search(trials: 8)
        // An evaluation of a sampling pipeline keeps its coverage curve beside its run.
        try """
        strata: 1
        models:
          m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)" }
        defaults: { max_tokens: 32 }
        layers:
          - ensemble: [{ model: m, samples: 4 }]
          - vote: { extractor: numeric }
        """.write(to: directory.appendingPathComponent("sampled.yaml"), atomically: true, encoding: .utf8)
        let eval = try await StrataBinary.run(["eval", "sampled.yaml", "--dataset", dataset, "--limit", "6"], in: directory)
        #expect(eval.status == 0, "\(eval.stderr)")
        let storePath = directory.appendingPathComponent(".strata/studies.sqlite").path
        let store = try SQLiteStudyStore(path: storePath)

        let log = directory.appendingPathComponent("studio.log")
        let studio = try StrataBinary.start(["studio", "--port", "0"], in: directory, log: log)
        defer { studio.terminate() }
        var address: String?
        _ = await eventually(within: 30) {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            address = text.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression).map { String(text[$0]) }
            return address != nil
        }
        let url = try #require(address, "the studio did not say where it listens")

        let shots = packageRoot.appendingPathComponent(".build/test-artifacts/studio")
        try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)
        let browser = try BrowserScript(
            python: Self.python, script: packageRoot.appendingPathComponent("Tests/Browser/studio.py").path, url: url, shots: shots.path)
        defer { browser.stop() }

        let studies = try await storeStudies(store, path: storePath)
        let study = try #require(studies.first)
        let trials = try await store.trials(study: study)

        let home = try await browser.next("home")
        #expect((home["studies"] as? [[String]])?.first?[1] == "writing", "a study written in the last minute")
        #expect((home["studies"] as? [[String]])?.first?[2] == String(trials.count))
        #expect(home["stores"] as? String == "studies: .strata/studies.sqlite · runs: .strata/runs.sqlite (read-only)")

        let page = try await browser.next("study")
        let scored = trials.filter { $0.status == .complete && $0.phase == .dev && $0.objective != nil }
        #expect(page["history_points"] as? Int == scored.count)
        let best = try #require(scored.compactMap(\.objective).max())
        #expect((page["history_best"] as? [Double])?.allSatisfy { abs($0 - best) < 1e-9 } == true)
        #expect((page["history_best"] as? [Double])?.isEmpty == false)
        #expect((page["rows"] as? [[String]])?.count == trials.count)
        #expect(page["shown"] as? String == "\(trials.count) of \(trials.count) trials shown")
        #expect((page["headers"] as? [String])?.suffix(3) == ["fuse", "narrow", "samples"])
        // Tick labels on both axes of the score-against-cost plot, as numbers.
        let xTicks = try #require(page["pareto_x_ticks"] as? [String])
        #expect(xTicks.count >= 2 && xTicks.allSatisfy { Double($0) != nil })
        #expect((page["history_y_ticks"] as? [String])?.allSatisfy { Double($0) != nil } == true)
        // The Pareto front: the development trials no other beats on both calls and score.
        let candidates = trials.filter { $0.status == .complete && $0.phase == .dev }.compactMap { trial in
            trial.outcome.map { (calls: Double(trial.staticCalls), score: $0.score) }
        }
        let front = candidates.filter { point in
            !candidates.contains { other in
                other.calls <= point.calls && other.score >= point.score && (other.calls < point.calls || other.score > point.score)
            }
        }
        let drawn = try #require(page["pareto_front"] as? [[Double]])
        #expect(Set(drawn.map { "\($0[0])|\($0[1])" }) == Set(front.map { "\($0.calls)|\($0.score)" }))
        #expect(page["parallel_lines"] as? Int == scored.count)
        let importance = try #require(page["importance"] as? [[String]])
        #expect(Set(importance.map { $0[0] }) == ["fuse", "narrow", "samples"], "\(scored.map(\.objective))")

        let sorted = try await browser.next("sorted")
        let scores = (sorted["rows"] as? [[String]] ?? []).map { Double($0[4]) ?? -1 }
        #expect(scores == scores.sorted(by: >) && !scores.isEmpty, "sorted by score, highest first")
        let filtered = try #require(sorted["filtered"] as? [[String]])
        #expect(!filtered.isEmpty && filtered.allSatisfy { $0.last == "1" })

        let trial = try await browser.next("trial")
        let yaml = try #require(trial["yaml"] as? String)
        #expect(yaml.contains("samples: ") && yaml.contains("narrow: ") && yaml.contains("fuse: "))

        // Live: a second search writes more trials while the page is open.
        _ = try await browser.next("ready")
        try await search(trials: 14)
        let after = try await store.trials(study: study).count
        #expect(after > trials.count)
        let live = try await browser.next("live", within: 120)
        #expect(live["shown"] as? String == "\(after) of \(after) trials shown")
        #expect((live["live"] as? String)?.hasPrefix("live · ") == true)
        #expect(live["hash"] as? Bool == true, "the page followed the update without reloading")

        let run = try await browser.next("run")
        let items = try #require(run["items"] as? [[String]])
        #expect(!items.isEmpty)
        let ids = items.map { $0[0] }
        #expect(ids == ids.sorted { $0.compare($1, options: .numeric) == .orderedAscending }, "items in natural order")
        let item = try await browser.next("item")
        #expect((item["spans"] as? Int ?? 0) > 0, "the item's calls in time")
        #expect((item["layers"] as? [String])?.first?.contains("ensemble") == true)
        #expect((item["x_ticks"] as? [String])?.isEmpty == false)

        // The evaluation's run: accuracy against calls, and its coverage curve as the store keeps it.
        let runStore = try RunStore(path: directory.appendingPathComponent(".strata/runs.sqlite").path)
        let evalRun = try #require(
            try await StudioSource(studyStore: nil, runStore: directory.appendingPathComponent(".strata/runs.sqlite").path)
                .runList().first { $0.pipelinePath == "sampled.yaml" })
        let curve = try #require(try await runStore.coverage(run: evalRun.id), "the eval kept its coverage curve")
        #expect(curve.samples == 4 && curve.points.count == 4)
        let results = try await runStore.results(run: evalRun.id)
        let coverage = try await browser.next("coverage")
        #expect(coverage["calls_points"] as? Int == Set(results.map { $0.usage.calls + $0.usage.cacheHits }).count)
        let series = try #require(coverage["series"] as? [String])
        #expect(series.starts(with: ["passAtK", "majorityAtK"]), "\(series)")
        let passAtK = try #require(coverage["pass_at_k"] as? [Double])
        #expect(passAtK.count == 4 && zip(passAtK, curve.points.map(\.passAtK)).allSatisfy { abs($0 - $1) < 1e-9 }, "\(passAtK)")
        #expect((coverage["note"] as? String)?.contains("\(curve.items) items with at least two samples") == true)
        await browser.finish()
        for name in ["home", "study", "trial", "live", "run", "item", "coverage"] {
            #expect(FileManager.default.fileExists(atPath: shots.appendingPathComponent("\(name).png").path), "screenshot \(name)")
        }
    }

    func storeStudies(_ store: SQLiteStudyStore, path: String) async throws -> [String] {
        try await StudioSource(studyStore: path, runStore: nil).studyList().map(\.id)
    }
}

/// `Tests/Browser/studio.py` running: its JSON lines, read as they come.
final class BrowserScript: Sendable {
    private let process: ChildProcess
    private let lines: AsyncStream<String>
    private let errors: URL

    init(python: String, script: String, url: String, shots: String) throws {
        let out = Pipe()
        errors = try temporaryDirectory().appendingPathComponent("browser.err")
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        process = ChildProcess(
            URL(fileURLWithPath: python), arguments: [script, url, shots], output: .pipe(out), error: .handle(try FileHandle(forWritingTo: errors)))
        try process.run()
        let (lines, sink) = AsyncStream.makeStream(of: String.self)
        self.lines = lines
        // Read on a thread of its own: the pipe blocks until the script prints.
        Thread.detachNewThread {
            var buffer = Data()
            while case let chunk = out.fileHandleForReading.availableData, !chunk.isEmpty {
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    sink.yield(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
            }
            sink.finish()
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The next line for `view`, within `seconds`.
    func next(_ view: String, within seconds: Double = 90) async throws -> [String: Any] {
        let lines = lines, errors = errors
        let line = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await line in lines where line.contains("\"view\": \"\(view)\"") { return line }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let line, let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw Failure(description: "the browser script did not show \(view): \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        }
        return object
    }

    func stop() { if process.isRunning { process.terminate() } }

    /// Waits for the script to end (it closes the browser).
    func finish() async {
        _ = await eventually(within: 60) { !self.process.isRunning }
        stop()
    }
}
