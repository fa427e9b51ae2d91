import Foundation
import StrataSandbox
import StrataTestServer
import StrataTestSupport
import Testing

/// End-to-end tests of the real `strata` binary, as swift-argument-parser tests its tools.
@Suite struct StrataBinaryTests {
    @Test func checkPassesOnEveryExamplePipeline() async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: packageRoot.appendingPathComponent("Pipelines").path)
            .filter { $0.hasSuffix(".yaml") }.map { "Pipelines/\($0)" }
        let outcome = try await StrataBinary.run(["check"] + files + ["Pipelines/models/local.yaml"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("Pipelines/quickstart.yaml: ok"))
    }

    @Test func everyFuzzRegressionInputIsCheckedQuickly() async throws {
        // The fuzz target's replay mode runs each saved input through the whole front end.
        // The limit catches a pathological input (those found took from seconds to forever), not a busy machine.
        let outcome = try await StrataBinary.run(["--max-seconds", "10", "Fuzz/regressions", "Pipelines"], executable: StrataBinary.product("FrontEndFuzzer"))
        #expect(outcome.status == 0, "\(outcome.stdout)\(outcome.stderr)")
        let replayed = outcome.stdout.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        #expect(replayed >= 30, "\(outcome.stdout)")
    }

    @Test(arguments: [
        ("ArchonImportFuzzer", ["Tests/Fixtures/archon-configs", "Fuzz/seeds/archon"], 150),
        ("ServeRequestFuzzer", ["Fuzz/seeds/serve"], 10),
    ])
    func everyImportAndServeFuzzSeedReplaysCleanly(product: String, seeds: [String], atLeast: Int) async throws {
        // Replaying checks each target's invariants too (a broken one aborts the process).
        let outcome = try await StrataBinary.run(["--max-seconds", "10"] + seeds, executable: StrataBinary.product(product))
        #expect(outcome.status == 0, "\(outcome.stdout)\(outcome.stderr)")
        let replayed = outcome.stdout.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        #expect(replayed >= atLeast, "\(outcome.stdout)")
    }

    @Test func includePathAllowsADirectoryOutsideTheTree() async throws {
        let directory = try temporaryDirectory()
        let shared = try temporaryDirectory()
        try "strata: 1\n".write(to: directory.appendingPathComponent(".strata"), atomically: true, encoding: .utf8)
        try "strata: 1\nmodels:\n  m: { provider: openai, model: gpt-4o-mini }\n"
            .write(to: shared.appendingPathComponent("models.yaml"), atomically: true, encoding: .utf8)
        try "strata: 1\ninclude: \(shared.path)/models.yaml\nlayers:\n  - ensemble: [m]\n"
            .write(to: directory.appendingPathComponent("main.yaml"), atomically: true, encoding: .utf8)
        let refused = try await StrataBinary.run(["check", "main.yaml"], in: directory)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("refusing to include"))
        let allowed = try await StrataBinary.run(["check", "--include-path", shared.path, "main.yaml"], in: directory)
        #expect(allowed.status == 0, "\(allowed.stderr)")
    }

    @Test func threeMistakesAreReportedWithCaretsAndFixIts() async throws {
        let directory = try temporaryDirectory()
        try """
        strata: 1
        models:
          gpt: { provider: openai, model: gpt-4o-mini }
        layers:
          - ensemble:
              - model: gpt
                smaples: 3
          - rank: { model: gtp, top_k: 2 }
          - fuse: [{ model: gpt, temperature: -1 }]
        """.write(to: directory.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        let outcome = try await StrataBinary.run(["check", "broken.yaml"], in: directory)
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("broken.yaml:7:9: error[E010]: unknown key 'smaples' in a model entry; did you mean 'samples'?"))
        #expect(outcome.stderr.contains("broken.yaml:8:20: error[E020]: model 'gtp' is not declared; did you mean 'gpt'?"))
        #expect(outcome.stderr.contains("broken.yaml:9:39: error[E013]: 'temperature' is -1, but it must be between 0 and 2"))
        #expect(
            outcome.stderr.contains(
                """
                  |
                7 |         smaples: 3
                  |         ^^^^^^^
                """))
        #expect(outcome.stderr.contains("= help: replace 'smaples' with 'samples'"))
        #expect(outcome.stderr.contains("broken.yaml: failed (3 errors, 0 warnings)"))
        // Not a terminal: no colour codes.
        #expect(!outcome.stderr.contains("\u{1B}["))
    }

    @Test func jsonDiagnosticsAreMachineReadable() async throws {
        let directory = try temporaryDirectory()
        try "strata: 1\nlayers:\n  - rank: { model: nobody, top_k: 1 }\n"
            .write(to: directory.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        let outcome = try await StrataBinary.run(["check", "--format", "json", "bad.yaml"], in: directory)
        #expect(outcome.status == 1)
        let document = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any]
        let diagnostics = try #require(document?["diagnostics"] as? [[String: Any]])
        let codes = diagnostics.compactMap { $0["code"] as? String }
        #expect(codes.contains("E030"))
        #expect(codes.contains("E020"))
        let first = try #require(diagnostics.first { $0["code"] as? String == "E020" })
        let range = try #require(first["range"] as? [String: Any])
        #expect((range["start"] as? [String: Int])?["line"] == 3)
        #expect(first["severity"] as? String == "error")
    }

    @Test func usageErrorsExitTwoAndMissingFilesExitOne() async throws {
        #expect(try await StrataBinary.run(["check"]).status == 2)
        #expect(try await StrataBinary.run(["compile", "Pipelines/quickstart.yaml", "--emit", "pdf"]).status == 2)
        #expect(try await StrataBinary.run(["frobnicate"]).status == 2)
        let missing = try await StrataBinary.run(["check", "does-not-exist.yaml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("does-not-exist.yaml:1:1: error[E007]: cannot read 'does-not-exist.yaml': no such file"))
        #expect(try await StrataBinary.run(["--help"]).status == 0)
    }

    @Test func compileEmitsEveryFormat() async throws {
        let cost = try await StrataBinary.run(["compile", "Pipelines/quickstart.yaml", "--emit", "cost"])
        #expect(cost.status == 0)
        #expect(cost.stdout.contains("Worst-case cost of one query: quickstart"))
        #expect(cost.stdout.contains("total"))
        let mermaid = try await StrataBinary.run(["compile", "Pipelines/quickstart.yaml", "--emit", "mermaid"])
        #expect(mermaid.stdout.hasPrefix("flowchart TD"))
        let dot = try await StrataBinary.run(["compile", "Pipelines/quickstart.yaml", "--emit", "dot"])
        #expect(dot.stdout.hasPrefix("digraph strata {"))
        let json = try await StrataBinary.run(["compile", "Pipelines/quickstart.yaml", "--emit", "json"])
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((document?["cost"] as? [String: Any])?["total"] != nil)
    }

    @Test func compileShowsTheCostOfAPipelineOverBudget() async throws {
        let directory = try temporaryDirectory()
        try """
        strata: 1
        models:
          gpt: { provider: openai, model: gpt-4o-mini }
          claude: { provider: anthropic, model: claude-3-5-haiku-latest }
        budget: { calls: 5 }
        layers:
          - ensemble: [{ model: gpt, samples: 5 }, { model: gpt, samples: 3, prompt: "Work backwards." }, { model: claude, samples: 3 }]
          - fuse: [gpt]
        """.write(to: directory.appendingPathComponent("pricey.yaml"), atomically: true, encoding: .utf8)
        let outcome = try await StrataBinary.run(["compile", "pricey.yaml", "--emit", "cost"], in: directory)
        #expect(outcome.status == 1)
        // Each gpt entry's samples go in one request (OpenAI takes n), claude's one by one
        // (Anthropic does not): 1 + 1 + 3 + the fuse's 1 = 6 calls.
        #expect(outcome.stderr.contains("error[E050]: the worst case of a query is 6 calls, over the budget of 5 by 1 (20%)"), "\(outcome.stderr)")
        #expect(outcome.stdout.contains("total"))
        #expect(outcome.stdout.contains("asks gpt for 5 samples in one request (n)"))
    }

    // `script` gives the child a real terminal.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs /usr/bin/script (util-linux) for a terminal"))
    func colourOnlyWhenAskedByTheTerminalAndNeverWithNoColor() async throws {
        let directory = try temporaryDirectory()
        try "strata: 1\nlayers: []\n".write(to: directory.appendingPathComponent("e.yaml"), atomically: true, encoding: .utf8)
        @Sendable func viaTerminal(_ environment: [String: String]) throws -> String {
            var env = ProcessInfo.processInfo.environment
            env.removeValue(forKey: "NO_COLOR")
            env["TERM"] = "xterm"
            for (key, value) in environment { env[key] = value }
            let out = Pipe()
            let process = ChildProcess(
                URL(fileURLWithPath: "/usr/bin/script"), arguments: ["-qec", "\(StrataBinary.url.path) check e.yaml", "/dev/null"],
                environment: env, directory: directory, input: .null, output: .pipe(out))
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        let coloured = try await offPool { try viaTerminal([:]) }
        #expect(coloured.contains("\u{1B}[1;31merror[E018]"))
        let plain = try await offPool { try viaTerminal(["NO_COLOR": "1"]) }
        #expect(plain.contains("error[E018]"))
        #expect(!plain.contains("\u{1B}["))
    }
}

/// `strata run` against the in-process test server, as a real subprocess.
@Suite struct StrataRunTests {
    func writePipeline(_ server: ScriptedLLMServer, in directory: URL) throws -> String {
        let path = directory.appendingPathComponent("p.yaml").path
        try """
        strata: 1
        models:
          m: { provider: openai-compatible, model: test, base_url: "\(server.baseURL)", limits: { max_in_flight: 4 } }
        defaults: { max_tokens: 32 }
        layers:
          - ensemble: [{ model: m, samples: 3 }]
          - rank: { model: m, top_k: 2 }
          - fuse: [m]
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func explainShowsEachSamplesConfidence() async throws {
        let server = try ScriptedLLMServer { request, _ in .scored("It is \((request.seed ?? 0) % 2 == 0 ? 42 : 41).", logprob: -0.2) }
        let directory = try temporaryDirectory()
        let path = directory.appendingPathComponent("confident.yaml").path
        try """
        strata: 1
        models:
          m: { provider: openai-compatible, model: test, base_url: "\(server.baseURL)", capabilities: { logprobs: true } }
        layers:
          - ensemble: [{ model: m, samples: 3 }]
          - vote: { weight: confidence, keep: 100% }
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let explained = try await StrataBinary.run(["run", path, "--prompt", "6 × 7?", "--explain", "--cache", "off"], in: directory)
        #expect(explained.status == 0, "\(explained.stderr)")
        // exp(-0.2) = 0.82 per vote; the group figure is the token confidence of -0.2 and its alternatives.
        #expect(explained.stdout.contains("[1] m#0, confidence 0.82 (lowest group"), "\(explained.stdout)")
        #expect(explained.stdout.contains("vote (numeric, weighted by confidence): 42: 1.64 (2), 41: 0.82 (1)"), "\(explained.stdout)")
    }

    @Test func runPrintsTheAnswerAndExplains() async throws {
        let server = try ScriptedLLMServer()
        let directory = try temporaryDirectory()
        let pipeline = try writePipeline(server, in: directory)
        let plain = try await StrataBinary.run(["run", pipeline, "--prompt", "Hello there", "--cache", "off"], in: directory)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout.hasPrefix("answer(seed 0): "))
        #expect(plain.stderr.contains("5 calls"))
        let explained = try await StrataBinary.run(["run", pipeline, "--prompt", "Hello there", "--explain", "--cache", "off"], in: directory)
        #expect(explained.stdout.contains("── layer 2: rank — 3 in → 2 out"))
        #expect(explained.stdout.contains("ranking: [3] > [2] > [1], keeping 2"))
        let streamed = try await StrataBinary.run(["run", pipeline, "--prompt", "Hello there", "--stream", "--cache", "off"], in: directory)
        #expect(streamed.stdout.hasPrefix("answer(seed 0): "))
        #expect(streamed.stderr.contains("· layer 1 ensemble: 3 candidate(s)"))
    }

    @Test func timelineIsAChromeTraceOfEveryCall() async throws {
        let server = try ScriptedLLMServer()
        let directory = try temporaryDirectory()
        let pipeline = try writePipeline(server, in: directory)
        let file = directory.appendingPathComponent("timeline.json")
        let outcome = try await StrataBinary.run(
            [
                "run", pipeline, "--prompt", "Hello there", "--cache", "off",
                "--timeline", file.path,
            ], in: directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        let events = try #require(object["traceEvents"] as? [[String: Any]])
        let spans = events.filter { $0["ph"] as? String == "X" }
        #expect(spans.count == 5, "one span per call")
        #expect(Set(spans.compactMap { $0["name"] as? String }) == ["generate", "rank", "fuse"])
        #expect(spans.allSatisfy { ($0["ts"] as? Int).map { $0 >= 0 } == true && ($0["dur"] as? Int).map { $0 > 0 } == true })
        #expect(spans.allSatisfy { ($0["args"] as? [String: Any])?["cache_hit"] as? Bool == false })
        let rows = events.filter { $0["name"] as? String == "thread_name" }.compactMap { ($0["args"] as? [String: Any])?["name"] as? String }
        #expect(rows == ["m"], "one row per model")
        // The samples overlap; the fuse starts after the rank ends.
        let generate = spans.filter { $0["name"] as? String == "generate" }.compactMap { $0["ts"] as? Int }
        let rank = try #require(spans.first { $0["name"] as? String == "rank" })
        let fuse = try #require(spans.first { $0["name"] as? String == "fuse" })
        #expect(generate.count == 3)
        #expect((fuse["ts"] as! Int) >= (rank["ts"] as! Int) + (rank["dur"] as! Int) - 1)
    }

    @Test func aKilledBatchResumesWhereItStopped() async throws {
        // 40 items × 5 calls, 2 items at a time, 0.2 s a call: about 20 s, so the
        // kill lands mid-batch even when a loaded CI machine polls late.
        let server = try ScriptedLLMServer(latency: 0.2)
        let directory = try temporaryDirectory()
        let pipeline = try writePipeline(server, in: directory)
        let input = directory.appendingPathComponent("items.jsonl").path
        let output = directory.appendingPathComponent("answers.jsonl").path
        try (0..<40).map { #"{"id": "item-\#($0)", "prompt": "question \#($0)"}"# }.joined(separator: "\n")
            .write(toFile: input, atomically: true, encoding: .utf8)
        let arguments = ["run", pipeline, "--input", input, "--output", output, "--concurrency", "2"]

        let process = try StrataBinary.start(arguments, in: directory)
        func lines() -> [String] {
            ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        let deadline = Date().addingTimeInterval(30)
        while lines().count < 6, Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        kill(process.processIdentifier, SIGKILL)
        await waitForExit(process)
        let answeredBeforeKill = lines().count
        #expect(answeredBeforeKill >= 6 && answeredBeforeKill < 40)
        let requestsBeforeResume = server.requestCount

        let resumed = try await StrataBinary.run(arguments, in: directory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("40 items, \(answeredBeforeKill) already answered"))
        let ids = lines().compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? String
        }
        #expect(ids.count == 40)
        #expect(Set(ids) == Set((0..<40).map { "item-\($0)" }))
        // Finished items cost nothing again: at most the unfinished ones' 5 calls each.
        #expect(server.requestCount - requestsBeforeResume <= (40 - answeredBeforeKill) * 5)
    }
}

/// Blocking work on a Dispatch worker, off Swift's cooperative pool.

/// `strata eval` end to end: the binary, the test server, a real SQLite run store.
@Suite struct StrataEvalCommandTests {
    @Test func evalScoresComparesAndReusesFinishedRuns() async throws {
        let server = try ScriptedLLMServer { request, _ in
            .text(request.promptText.contains("David collects garbage") ? "#### 1687.5" : "#### 0")
        }
        let directory = try temporaryDirectory()
        for (name, samples) in [("one.yaml", 1), ("three.yaml", 3)] {
            try """
            strata: 1
            models:
              m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)" }
            layers:
              - ensemble: [{ model: m, samples: \(samples) }]
              - fuse: [m]
            """.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let dataset = packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path
        let arguments = ["eval", "one.yaml", "--dataset", dataset, "--limit", "5", "--compare", "three.yaml", "--format", "json"]
        let first = try await StrataBinary.run(arguments, in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any]
        let runs = try #require(report?["runs"] as? [[String: Any]])
        #expect(runs.map { $0["mean"] as? Double } == [0.2, 0.2])
        #expect(report?["scorer"] as? String == "numeric")
        #expect((report?["comparison"] as? [String: Any])?["shared"] as? Int == 5)
        let calls = server.requestCount
        // one.yaml: 2 calls an item; three.yaml: 4, but its sample 0 is one.yaml's, served by the shared response cache.
        #expect(calls == 5 * 2 + 5 * 3)
        // The same eval again is a cache hit in the run store: no model calls.
        let again = try await StrataBinary.run(arguments, in: directory)
        #expect(again.status == 0)
        #expect(server.requestCount == calls)
        let text = try await StrataBinary.run(["eval", "one.yaml", "--dataset", dataset, "--limit", "5"], in: directory)
        #expect(text.stdout.contains("scored by numeric"))
        #expect(text.stdout.contains("0.200  0.036–0.624 (wilson)"))
        // A pilot's recommendation: from the three samples already drawn (no calls), and only where there are samples.
        let pilot = try await StrataBinary.run(
            ["eval", "three.yaml", "--compare", "one.yaml", "--dataset", dataset, "--limit", "5", "--recommend-k"], in: directory)
        #expect(pilot.status == 0, "\(pilot.stderr)")
        #expect(pilot.stdout.contains("recommended k for three.yaml: 1 samples (drawn: 3)"), "\(pilot.stdout)")
        #expect(pilot.stdout.contains("no recommended k for one.yaml"))
        #expect(server.requestCount == calls)
    }
}

/// An adaptive pipeline's cost: low and worst from the compiler, the expectation from an earlier eval.
@Suite struct ExpectedCostTests {
    @Test func anEvalGivesTheCostTableItsExpectation() async throws {
        // Odd items are "easy" (the quick sample is sure), even ones escalate to the careful vote of three.
        let server = try ScriptedLLMServer { request, _ in
            let text = request.promptText
            if text.contains("step by step") { return .scored("It is 42.", logprob: -0.05) }
            let easy = text.contains("easy")
            return .scored("It is 42.", logprob: easy ? -0.05 : -2)
        }
        let directory = try temporaryDirectory()
        try """
        strata: 1
        models:
          m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)", capabilities: { logprobs: true } }
        layers:
          - route:
              cascade: { threshold: 0.9, measure: confidence }
              branches:
                quick: [ { ensemble: [m] } ]
                careful: [ { ensemble: [ { model: m, samples: 3, prompt: "Think step by step." } ] }, { vote: {} } ]
        """.write(to: directory.appendingPathComponent("cascade.yaml"), atomically: true, encoding: .utf8)
        let dataset = directory.appendingPathComponent("items.jsonl")
        try (0..<4).map { #"{"id": "\#($0)", "prompt": "\#($0 % 2 == 1 ? "easy" : "hard") question \#($0)", "reference": "42"}"# }
            .joined(separator: "\n").write(to: dataset, atomically: true, encoding: .utf8)
        let before = try await StrataBinary.run(["compile", "cascade.yaml"], in: directory)
        #expect(before.stdout.contains("Calls per query: low 1, worst 4; the expectation comes from an eval of it: --from-run RUNSTORE."), "\(before.stdout)")
        let eval = try await StrataBinary.run(["eval", "cascade.yaml", "--dataset", dataset.path, "--store", "runs.sqlite"], in: directory)
        #expect(eval.status == 0, "\(eval.stderr)")
        // Two easy items at 1 call, two hard ones at 1 + 3.
        #expect(eval.stdout.contains("calls asked per item by cascade.yaml: 2.50 observed, against 1 at least and 4 at worst per query"), "\(eval.stdout)")
        let after = try await StrataBinary.run(["compile", "cascade.yaml", "--from-run", "runs.sqlite"], in: directory)
        #expect(
            after.stdout.contains("Calls per query: low 1, worst 4, expected 2.50 (observed on 4 items of earlier evals in runs.sqlite)."), "\(after.stdout)")
    }
}

/// The eval report, loaded in headless Chromium (Debian's `chromium`).
@Suite struct EvalReportTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The page's DOM after headless Chromium has loaded and laid it out.
    static func renderedDOM(of page: String, profile directory: URL, chromium: String) async throws -> String {
        try await offPool {
            let out = Pipe()
            let process = ChildProcess(
                URL(fileURLWithPath: chromium),
                arguments: [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                    "--user-data-dir=\(directory.appendingPathComponent("chromium").path)", "--dump-dom", "file://\(page)",
                ], output: .pipe(out), error: .null)
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
    }

    @Test(.enabled(if: chromium != nil, "chromium is not installed: scripts/bootstrap --tests installs it"))
    func reportLoadsInChromiumWithItsTable() async throws {
        let server = try ScriptedLLMServer { request, _ in
            .text(request.promptText.contains("David collects garbage") ? "#### 1687.5" : "#### 0 <script>alert(1)</script>")
        }
        let directory = try temporaryDirectory()
        try """
        strata: 1
        models:
          m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)" }
        layers:
          - ensemble: [{ model: m, samples: 2 }]
          - fuse: [m]
        """.write(to: directory.appendingPathComponent("p.yaml"), atomically: true, encoding: .utf8)
        let dataset = packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path
        let report = directory.appendingPathComponent("report.html").path
        let outcome = try await StrataBinary.run(
            ["eval", "p.yaml", "--dataset", dataset, "--items", "gsm_symbolic-10,gsm_symbolic-0,gsm_symbolic-2,gsm_symbolic-11", "--report", report],
            in: directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let dom = try await Self.renderedDOM(of: report, profile: directory, chromium: try #require(Self.chromium))
        // The studio's charts: tick labels on the cost axis, items in natural order, each item's calls in time.
        #expect(dom.contains("class=\"x-tick\""))
        let order = ["gsm_symbolic-0", "gsm_symbolic-2", "gsm_symbolic-10", "gsm_symbolic-11"].compactMap { dom.range(of: "</span> \($0)")?.lowerBound }
        #expect(order.count == 4 && order == order.sorted(), "items in natural order")
        #expect(dom.components(separatedBy: "class=\"timeline\"").count - 1 == 4)
        #expect(dom.contains("<table id=\"summary\">"))
        #expect(dom.contains("<td>p.yaml</td><td>4</td><td>0.250</td>"))
        #expect(dom.contains("<svg") && dom.contains("id=\"plot\""))
        #expect(dom.components(separatedBy: "class=\"item\"").count - 1 == 4)
        // Model output is escaped, never run.
        #expect(!dom.contains("<script>alert(1)</script>"))
        #expect(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
    }
}
