import Foundation
import StrataTestServer
import StrataTestSupport
import Testing

/// `strata search` end to end: the real binary, the test server, real SQLite stores.
@Suite struct SearchCommandTests {
    @Test func dryRunShowsTheSpaceBeforeAnythingIsSpent() async throws {
        let outcome = try await StrataBinary.run(["search", "Pipelines/searches/archon-paper-space.yaml", "--dry-run", "--trials", "200"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("archon-paper-space: 6 axes, 2,400 configurations"))
        #expect(outcome.stdout.contains("feasible: 2,376 of 2,400"))
        #expect(outcome.stdout.contains("infeasible: E050"))
        #expect(outcome.stdout.contains("cheapest:"))
        #expect(outcome.stdout.contains("most expensive:"))
        #expect(outcome.stdout.contains("projected worst case: 6,000 model calls"))
        let tighter = try await StrataBinary.run(["search", "Pipelines/searches/local-gsm.yaml", "--dry-run", "--budget-calls", "3"])
        #expect(tighter.stdout.contains("overridden: calls 3"))
        #expect(tighter.stdout.contains("feasible: 8 of 18"))
        let checked = try await StrataBinary.run(["check", "Pipelines/searches/local-gsm.yaml"])
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.stderr.contains("local-gsm.yaml: ok"))
    }

    @Test func aBrokenSearchFileIsReportedLikeAPipeline() async throws {
        let directory = try temporaryDirectory()
        try """
        strata-search: 1
        axes:
          samples: { range: [3, 1] }
        pipeline:
          layers:
            - ensemble: [{ model: m, samples: $smaples }]
        """.write(to: directory.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        for command in [["search", "broken.yaml", "--dry-run"], ["check", "broken.yaml"]] {
            let outcome = try await StrataBinary.run(command, environment: ["NO_COLOR": "1"], in: directory)
            #expect(outcome.status == 1)
            #expect(outcome.stderr.contains("broken.yaml:3:21: error[E060]: the range of axis 'samples' is empty: 3 > 1"))
            #expect(outcome.stderr.contains("error[E062]"))
            #expect(!outcome.stderr.contains("no axes"), "one broken axis is not also a missing one")
        }
    }

    func writeFiles(_ server: ScriptedLLMServer, in directory: URL) throws {
        try """
        # A test space.
        strata-search: 1
        axes:
          samples: [1, 2, 3]
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
        try """
        strata: 1
        models:
          m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)" }
        defaults: { max_tokens: 32 }
        layers:
          - ensemble: [{ model: m, samples: 1 }]
        """.write(to: directory.appendingPathComponent("baseline.yaml"), atomically: true, encoding: .utf8)
    }

    /// Killed with SIGKILL mid-search, the same command resumes without
    /// repeating finished trials, then writes a best pipeline `strata check`
    /// accepts, a report, and the comparison with the baseline.
    @Test func aKilledSearchResumesAndWritesTheBestPipeline() async throws {
        // Samples disagree: the majority and the fuse get the right answer more often.
        let server = try ScriptedLLMServer(latency: 0.03) { request, _ in
            let right = request.promptText.contains("David collects garbage") || request.promptText.count % 3 != 0
            return .text(right ? "#### 1687.5" : "#### 7")
        }
        let directory = try temporaryDirectory()
        try writeFiles(server, in: directory)
        let dataset = packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path
        let arguments = [
            "search", "space.yaml", "--dataset", dataset, "--dev-limit", "6", "--holdout-limit", "5", "--trials", "8",
            "--budget-calls", "3", "--baseline", "baseline.yaml", "--report", "search.html", "--concurrency", "1",
            "--output", "best.yaml", "--format", "json",
        ]
        let log = directory.appendingPathComponent("first.log")
        let process = try StrataBinary.start(arguments, in: directory, log: log)
        func trialsLogged() -> Int {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").components(separatedBy: "\ntrial ").count - 1
        }
        let deadline = Date().addingTimeInterval(60)
        while trialsLogged() < 2, Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        kill(process.processIdentifier, SIGKILL)
        await waitForExit(process)
        let finishedBeforeKill = trialsLogged()
        #expect(finishedBeforeKill >= 2)

        let resumed = try await StrataBinary.run(arguments, in: directory)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.components(separatedBy: "(from the store)").count - 1 >= finishedBeforeKill)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any])
        // Three samples and a fuse are 4 calls, over the budget of 3: 10 of 12 are feasible.
        #expect(summary["feasible"] as? Int == 10)
        #expect(summary["trialsReused"] as? Int ?? 0 >= finishedBeforeKill)
        #expect((summary["requestedCalls"] as? Int ?? 0) > (summary["issuedCalls"] as? Int ?? 0))
        let best = try #require(summary["best"] as? [String: Any])
        #expect(best["holdoutItems"] as? Int == 5)
        #expect((summary["baseline"] as? [String: Any])?["holdoutItems"] as? Int == 5)
        #expect((summary["comparison"] as? [String: Any])?["shared"] as? Int == 5)

        let written = try String(contentsOf: directory.appendingPathComponent("best.yaml"), encoding: .utf8)
        #expect(written.hasPrefix("# The best pipeline found by `strata search space.yaml`"))
        let checked = try await StrataBinary.run(["check", "best.yaml"], in: directory)
        #expect(checked.status == 0, "\(written)\n\(checked.stderr)")

        // A rerun of a finished search is all store hits: no model calls.
        let calls = server.requestCount
        let again = try await StrataBinary.run(arguments, in: directory)
        #expect(again.status == 0)
        #expect(server.requestCount == calls)

        if let chromium = EvalReportTests.chromium {
            let report = directory.appendingPathComponent("search.html").path
            let dom = try await EvalReportTests.renderedDOM(of: report, profile: directory, chromium: chromium)
            #expect(dom.contains("<table id=\"leaderboard\">"))
            #expect(dom.contains("id=\"scatter\""))
            #expect(dom.contains("class=\"x-tick\"") && dom.contains("class=\"y-tick\""), "tick labels on both axes")
            #expect(dom.contains("id=\"graph\""))
        }
    }
}

extension SearchCommandTests {
    /// Without --baseline, the winner is compared with the space's cheapest configuration.
    @Test func theCheapestConfigurationIsTheDefaultBaseline() async throws {
        let server = try ScriptedLLMServer { request, _ in .text(request.promptText.count % 2 == 0 ? "#### 1687.5" : "#### 3") }
        let directory = try temporaryDirectory()
        try writeFiles(server, in: directory)
        let dataset = packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path
        let outcome = try await StrataBinary.run(
            [
                "search", "space.yaml", "--dataset", dataset, "--dev-limit", "4", "--holdout-limit", "3",
                "--algorithm", "grid", "--trials", "3",
            ], in: directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("baseline the cheapest configuration (fuse=false narrow=none samples=1): held out"))
        #expect(outcome.stdout.contains("best pipeline written to space.best.yaml"))
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("space.best.yaml").path))
    }
}
