import Foundation
import Strata
import StrataPostgres
import StrataSandbox
import StrataTestServer
import StrataTestSupport
import Testing

/// Real `strata search` worker processes on one study in PostgreSQL, against
/// the in-process model server: what a user starting the same command on
/// several machines would see when one of them dies.
@Suite(.enabled(if: TestPostgres.isUp, "no STRATA_TEST_POSTGRES_URL: scripts/test starts a throwaway PostgreSQL"), .serialized)
struct WorkerProcessTests {
    /// Rows of a query, through psql (installed with the server).
    static func psql(_ url: String, _ sql: String) throws -> [String] {
        let outcome = try StrataBinary.runBlocking([url, "-Atc", sql], executable: URL(fileURLWithPath: "/usr/bin/psql"))
        return outcome.stdout.split(separator: "\n").map(String.init)
    }

    func arguments(space: String, url: String, worker: String, ttl: String = "3", items: Int = 20, concurrency: Int = 2) -> [String] {
        [
            "search", space, "--dataset", packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path,
            "--split", "dev:0.5", "--dev-limit", String(items), "--holdout-limit", "0", "--algorithm", "grid", "--concurrency", String(concurrency),
            "--cache", "off", "--store", url, "--worker-id", worker, "--lease-ttl", ttl, "--heartbeat", "0.5", "--poll", "0.2",
        ]
    }

    /// A space on the test server, by default one configuration whose 20-item trial takes about 3 s
    /// (two samples an item, 0.3 s a call, two items at a time).
    static func slowSpace(_ server: ScriptedLLMServer, in directory: URL, samples: String = "[2]") throws -> String {
        let space = directory.appendingPathComponent("space.yaml")
        try """
        strata-search: 1
        name: takeover
        axes:
          samples: \(samples)
        pipeline:
          models:
            m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)", limits: { max_in_flight: 8 } }
          defaults: { max_tokens: 16 }
          layers:
            - ensemble: [{ model: m, samples: $samples }]
            - vote: { extractor: numeric }
        """.write(to: space, atomically: true, encoding: .utf8)
        return space.path
    }

    @Test func aPausedWorkerThatLostItsLeaseStopsAndChangesNothing() async throws {
        let server = try ScriptedLLMServer { _, _ in .delayed(0.3, .text("The answer is #### 7")) }
        let directory = try temporaryDirectory()
        let space = try Self.slowSpace(server, in: directory)
        let url = try await TestPostgres.freshDatabase()
        let zombie = try StrataBinary.start(arguments(space: space, url: url, worker: "A", ttl: "2"), in: directory)
        let started = await eventually(within: 60) { ((try? Self.psql(url, "SELECT count(*) FROM strata_results").first).flatMap { Int($0) } ?? 0) >= 3 }
        #expect(started)
        kill(zombie.processIdentifier, SIGSTOP)
        let pausedAt = try Self.psql(url, "SELECT item_id FROM strata_results ORDER BY item_id")
        // B waits out A's lease, takes the trial over and finishes it.
        let second = try await StrataBinary.run(arguments(space: space, url: url, worker: "B", ttl: "2"), in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try Self.psql(url, "SELECT count(*) FROM strata_results") == ["20"])
        kill(zombie.processIdentifier, SIGCONT)
        // A's next renewal fails: it cancels its calls within a heartbeat, finds the study done and exits.
        try await Task.sleep(for: .seconds(1.5))
        let settled = server.requestCount
        let exited = await eventually(within: 30) { !zombie.isRunning }
        #expect(exited)
        #expect(zombie.terminationStatus == 0)
        #expect(server.requestCount == settled, "the zombie kept calling the model")
        let results = try Self.psql(url, "SELECT item_id || ' ' || writer FROM strata_results ORDER BY item_id")
        #expect(results.count == 20)
        for item in pausedAt { #expect(results.contains("\(item) A")) }
        #expect(try Self.psql(url, "SELECT count(*) FROM strata_trials WHERE status = 'complete'") == ["1"])
    }

    @Test func fourWorkersStopWithinAnItemOrTwoEachOfAGlobalCallLimit() async throws {
        // Six configurations of 10 items, 2 calls an item, 0.3 s an item: a trial alone is 20 calls in 3 s, and four at once 80.
        let server = try ScriptedLLMServer { _, _ in .delayed(0.3, .text("The answer is #### 7")) }
        let directory = try temporaryDirectory()
        let space = directory.appendingPathComponent("space.yaml")
        try """
        strata-search: 1
        name: limit
        axes:
          tokens: [16, 17, 18, 19, 20, 21]
        pipeline:
          models:
            m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)" }
          layers:
            - ensemble: [{ model: m, samples: 2, max_tokens: $tokens }]
            - vote: { extractor: numeric }
        """.write(to: space, atomically: true, encoding: .utf8)
        let url = try await TestPostgres.freshDatabase()
        let outcomes = try await withThrowingTaskGroup(of: StrataBinary.Outcome.self) { group in
            for name in ["A", "B", "C", "D"] {
                let home = directory.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
                let arguments = self.arguments(space: space.path, url: url, worker: name, items: 10, concurrency: 1) + ["--max-calls", "30"]
                group.addTask { try await StrataBinary.run(arguments, in: home) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for outcome in outcomes {
            #expect(outcome.status == 0, "\(outcome.stderr)")
            #expect(outcome.stdout.contains("call budget") || outcome.stderr.contains("call budget"))
        }
        // Each worker publishes every item's calls as it finishes: the others stop within the item in flight
        // and the one they started before hearing (two items, four calls, a worker), not within a trial (20 calls).
        #expect(server.requestCount >= 30)
        #expect(server.requestCount <= 30 + 4 * 2 * 2, "\(server.requestCount) calls for a limit of 30")
        let counted = try Self.psql(url, "SELECT issued_calls FROM strata_studies")
        #expect(counted == [String(server.requestCount)])
    }

    @Test func twoWorkersShareTheItemsOfOneTrial() async throws {
        // One configuration of 20 items in ten units of 2: about 10 s for one worker alone, so both start in time.
        let server = try ScriptedLLMServer { _, _ in .delayed(1, .text("The answer is #### 7")) }
        let directory = try temporaryDirectory()
        let space = try Self.slowSpace(server, in: directory, samples: "[2]")
        let url = try await TestPostgres.freshDatabase()
        let outcomes = try await withThrowingTaskGroup(of: StrataBinary.Outcome.self) { group in
            for name in ["A", "B"] {
                let home = directory.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
                let arguments = self.arguments(space: space, url: url, worker: name) + ["--unit-items", "2", "--format", "json"]
                group.addTask { try await StrataBinary.run(arguments, in: home) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for outcome in outcomes { #expect(outcome.status == 0, "\(outcome.stderr)") }
        // Every item once, two calls each, whoever scored it; both workers wrote some of the one trial.
        #expect(server.requestCount == 40)
        #expect(try Self.psql(url, "SELECT count(*) FROM strata_results") == ["20"])
        #expect(try Self.psql(url, "SELECT count(DISTINCT writer) FROM strata_results") == ["2"])
        #expect(try Self.psql(url, "SELECT count(*) FROM strata_units WHERE state = 'done' AND item_lo IS NOT NULL") == ["10"])
        #expect(try Self.psql(url, "SELECT count(*) FROM strata_trials WHERE status = 'complete'") == ["1"])
        for outcome in outcomes { #expect(outcome.stdout.contains("\"items\" : 20")) }
    }

    @Test func aKilledWorkersTrialIsTakenOverWithoutRepeatingAFinishedItem() async throws {
        let server = try ScriptedLLMServer { _, _ in .delayed(0.3, .text("The answer is #### 7")) }
        let directory = try temporaryDirectory()
        let space = URL(fileURLWithPath: try Self.slowSpace(server, in: directory))
        let url = try await TestPostgres.freshDatabase()

        let first = try StrataBinary.start(arguments(space: space.path, url: url, worker: "A"), in: directory, log: directory.appendingPathComponent("a.log"))
        let started = await eventually(within: 60) { ((try? Self.psql(url, "SELECT count(*) FROM strata_results").first).flatMap { Int($0) } ?? 0) >= 5 }
        #expect(started)
        kill(first.processIdentifier, SIGKILL)
        await waitForExit(first)
        let committed = try Self.psql(url, "SELECT item_id FROM strata_results ORDER BY item_id")
        let finishedByA = committed.count
        #expect(finishedByA >= 5)
        #expect(finishedByA < 20, "the kill came too late to test a takeover")

        let second = try await StrataBinary.run(arguments(space: space.path, url: url, worker: "B"), in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        let results = try Self.psql(url, "SELECT item_id || ' ' || writer FROM strata_results ORDER BY item_id")
        #expect(results.count == 20)
        // What A finished stays A's, and B never asked the model about it again.
        for item in committed { #expect(results.contains("\(item) A")) }
        let dataset = try DatasetLoader.load(path: packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path)
        let questions = Dictionary(uniqueKeysWithValues: dataset.items.map { ($0.id, $0.query.messages.last?.content ?? "") })
        let prompts = server.requests.map(\.promptText)
        for item in committed {
            let question = try #require(questions[item])
            #expect(prompts.filter { $0.contains(question) }.count == 2, "item \(item) finished by A was sent again")
        }
        // Only the items A had in flight were asked twice: at most its two items' four calls.
        #expect(prompts.count <= 40 + 4)
        #expect(try Self.psql(url, "SELECT attempts || ' ' || state FROM strata_units") == ["2 done"])
        #expect(try Self.psql(url, "SELECT count(*) FROM strata_trials WHERE status = 'complete'") == ["1"])

        let status = try await StrataBinary.run(
            arguments(space: space.path, url: url, worker: "C") + ["--status"], in: directory)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("trials: 1 complete, 0 failed, 0 pending"))
        #expect(status.stdout.contains("workers: 2"))
        #expect(!status.stdout.contains("  C "))
    }
}

/// `strata eval` on two workers: the items of one run split between them.
@Suite(.enabled(if: TestPostgres.isUp, "no STRATA_TEST_POSTGRES_URL: scripts/test starts a throwaway PostgreSQL"))
struct SharedEvalTests {
    @Test func twoWorkersScoreEveryItemOnceAndReportTheWholeRun() async throws {
        let server = try ScriptedLLMServer { _, _ in .delayed(0.02, .text("The answer is #### 7")) }
        let directory = try temporaryDirectory()
        let pipeline = directory.appendingPathComponent("p.yaml")
        try """
        strata: 1
        models:
          m: { provider: openai-compatible, model: t, base_url: "\(server.baseURL)" }
        layers:
          - ensemble: [{ model: m, samples: 1, max_tokens: 16 }]
        """.write(to: pipeline, atomically: true, encoding: .utf8)
        let url = try await TestPostgres.freshDatabase()
        let dataset = packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path
        func worker(_ name: String) async throws -> StrataBinary.Outcome {
            let home = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            return try await StrataBinary.run(
                [
                    "eval", pipeline.path, "--dataset", dataset, "--limit", "30", "--store", url, "--unit-items", "4", "--worker-id", name,
                    "--cache", "off", "--concurrency", "2", "--format", "json", "--poll", "0.1",
                ], in: home)
        }
        async let first = worker("A")
        async let second = worker("B")
        let outcomes = try await [first, second]
        for outcome in outcomes { #expect(outcome.status == 0, "\(outcome.stderr)") }
        // Every item asked once, whoever asked it; both workers report all 30.
        #expect(server.requestCount == 30)
        for outcome in outcomes { #expect(outcome.stdout.contains("\"items\" : 30")) }
        let writers = try WorkerProcessTests.psql(url, "SELECT writer, count(*) FROM strata_results GROUP BY writer ORDER BY writer")
        let counted: Int = writers.compactMap { $0.split(separator: "|").last.flatMap { Int($0) } }.reduce(0, +)
        #expect(counted == 30)
        #expect(try WorkerProcessTests.psql(url, "SELECT count(*) FROM strata_units WHERE state = 'done'") == ["8"])
    }
}

/// A database that goes away mid-search: a private cluster (the tests sharing
/// the main one must not see it stop), stopped — or hung, every server
/// process stopped with SIGSTOP — for ten seconds while two workers are
/// busy, then back. The response cache's shared level is in the same
/// database: while it is gone, its lookups are misses.
@Suite(.enabled(if: TestPostgres.isUp, "no STRATA_TEST_POSTGRES_URL: scripts/test starts a throwaway PostgreSQL"))
struct DatabaseOutageTests {
    static let control = packageRoot.appendingPathComponent("scripts/test-postgres").path

    static func cluster(_ command: String, port: Int) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["STRATA_TEST_POSTGRES_PORT"] = String(port)
        environment["STRATA_TEST_POSTGRES_DIR"] = NSTemporaryDirectory() + "strata-postgres-outage-\(port)"
        // Files, not pipes: the server it starts inherits the descriptors and would hold a pipe open.
        let directory = try temporaryDirectory()
        let output = directory.appendingPathComponent("out"), errors = directory.appendingPathComponent("err")
        for file in [output, errors] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        let process = ChildProcess(
            URL(fileURLWithPath: control), arguments: [command], environment: environment,
            output: .handle(try FileHandle(forWritingTo: output)), error: .handle(try FileHandle(forWritingTo: errors)))
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let said = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw TestFailure("scripts/test-postgres \(command) on port \(port) exited with \(process.terminationStatus): \(said)")
        }
        return try String(contentsOf: output, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(arguments: [("stop", "start"), ("pause", "resume")])
    func workersWaitOutAnOutageAndLoseNothing(_ outage: (begin: String, end: String)) async throws {
        // Below the ephemeral range, where no test server's port-0 bind or outgoing connection can hold it (scripts/test-postgres).
        let port = outage.begin == "stop" ? 25_433 : 25_434
        let admin = try Self.cluster("start", port: port)
        defer { _ = try? Self.cluster("stop", port: port) }
        // A database of its own: the cluster outlives the test run.
        let name = "outage_" + UUID().uuidString.prefix(8).lowercased()
        _ = try WorkerProcessTests.psql(admin, "CREATE DATABASE \(name)")
        let url = admin.replacingOccurrences(of: "/postgres?", with: "/\(name)?")
        // Each trial is 6 items two at a time, 0.5 s a call: about 1.5 s; the whole search about 5 s on two workers.
        let server = try ScriptedLLMServer { _, _ in .delayed(0.5, .text("The answer is #### 7")) }
        let directory = try temporaryDirectory()
        let space = URL(fileURLWithPath: try WorkerProcessTests.slowSpace(server, in: directory, samples: "[1, 2, 3, 4, 5, 6]"))
        func arguments(_ worker: String) -> [String] {
            [
                "search", space.path, "--dataset", packageRoot.appendingPathComponent("Tests/Fixtures/gsm_symbolic-50-seed7.jsonl").path,
                "--split", "dev:0.5", "--dev-limit", "6", "--holdout-limit", "0", "--algorithm", "grid", "--concurrency", "2",
                "--store", url, "--worker-id", worker, "--lease-ttl", "30", "--heartbeat", "0.5", "--poll", "0.2",
            ]
        }
        let logs = ["A", "B"].map { directory.appendingPathComponent("\($0).log") }
        // Each worker in a directory of its own, as on its own machine.
        let workers = try ["A", "B"].enumerated().map { index, name in
            let home = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            return try StrataBinary.start(arguments(name), in: home, log: logs[index])
        }
        let busy = await eventually(within: 60) {
            ((try? WorkerProcessTests.psql(url, "SELECT count(*) FROM strata_trials WHERE status = 'complete'").first).flatMap { Int($0) } ?? 0) >= 1
        }
        #expect(busy)
        let beforeOutage = try WorkerProcessTests.psql(url, "SELECT count(*) FROM strata_trials WHERE status = 'complete'")
        #expect(beforeOutage != ["6"], "the search finished before the database stopped")
        _ = try Self.cluster(outage.begin, port: port)
        try await Task.sleep(for: .seconds(10))
        _ = try Self.cluster(outage.end, port: port)
        for worker in workers {
            let exited = await eventually(within: 120) { !worker.isRunning }
            #expect(exited)
            #expect(worker.terminationStatus == 0)
        }
        // Every configuration once; the outage was shorter than the lease, so no trial changed hands.
        #expect(try WorkerProcessTests.psql(url, "SELECT count(*) FROM strata_trials WHERE status = 'complete' AND phase = 'dev'") == ["6"])
        #expect(try WorkerProcessTests.psql(url, "SELECT max(attempts) FROM strata_units") == ["1"])
        let said = try logs.map { try String(contentsOf: $0, encoding: .utf8) }.joined()
        #expect(said.contains("waiting for postgres://"))
        #expect(said.contains("answers again"))
    }
}
