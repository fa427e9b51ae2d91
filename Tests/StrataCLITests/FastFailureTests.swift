import Foundation
import StrataTestServer
import StrataTestSupport
import Testing

/// Failures that are quick and clear: SIGTERM ends every command within a
/// second wherever it is waiting (on a model's reply, on a store that does
/// not answer, idle); a store URL that does not parse is refused at once;
/// a store that never answers is given up on within seconds.
@Suite struct FastFailureTests {

    /// A pipeline of three calls to `upstream`, which holds them until the test ends.
    static func heldPipeline(_ upstream: ScriptedLLMServer, in directory: URL) throws -> String {
        try writeEnsemblePipeline(named: "held", samples: 3, server: upstream, in: directory)
    }

    /// Starts `arguments`, waits until `ready` holds, sends SIGTERM, and returns the seconds the process took to end.
    static func secondsToEnd(_ arguments: [String], in directory: URL, ready: @escaping @Sendable (String) -> Bool) async throws -> Double {
        let log = directory.appendingPathComponent("stderr.log")
        let process = try StrataBinary.start(arguments, in: directory, log: log)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let started = await eventually(within: 60) { ready((try? String(contentsOf: log, encoding: .utf8)) ?? "") }
        #expect(started, "never got going: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        #expect(process.isRunning, "ended before the signal: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        let signalled = Date()
        kill(process.processIdentifier, SIGTERM)
        _ = await eventually(within: 30) { !process.isRunning }
        return Date().timeIntervalSince(signalled)
    }

    @Test(arguments: ["run", "eval"])
    func aCommandWaitingOnModelsEndsWithinASecond(command: String) async throws {
        let upstream = try ScriptedLLMServer { request, _ in .held(until: { false }, timeout: 120, .text("late")) }
        let directory = try temporaryDirectory()
        let pipeline = try Self.heldPipeline(upstream, in: directory)
        var arguments = [command, pipeline, "--cache", "off"]
        if command == "run" {
            arguments += ["--prompt", "What is 2 + 2?"]
        } else {
            try "{\"question\": \"What is 2 + 2?\", \"answer\": \"#### 4\"}".write(
                to: directory.appendingPathComponent("items.jsonl"), atomically: true, encoding: .utf8)
            arguments += ["--dataset", "items.jsonl"]
        }
        let seconds = try await Self.secondsToEnd(arguments, in: directory) { _ in upstream.inFlight == 3 }
        #expect(seconds < 1, "\(command) took \(seconds) s to end after SIGTERM")
    }

    @Test func aSearchWaitingOnAStoreThatDoesNotAnswerEndsWithinASecond() async throws {
        let directory = try temporaryDirectory()
        // A port nothing listens on: the store is retried until its first-contact tolerance runs out.
        let closed = try ClosedPort()
        let store = "postgres://strata@127.0.0.1:\(closed.port)/studies?sslmode=disable"
        let space = packageRoot.appendingPathComponent("Pipelines/searches/local-gsm.yaml").path
        let seconds = try await Self.secondsToEnd(["search", space, "--store", store], in: directory) { $0.contains("waiting for") }
        #expect(seconds < 1, "search took \(seconds) s to end after SIGTERM")
        withExtendedLifetime(closed) {}
    }

    @Test func anIdleServerEndsWithinASecond() async throws {
        let upstream = try ScriptedLLMServer()
        let directory = try temporaryDirectory()
        let pipeline = try Self.heldPipeline(upstream, in: directory)
        let seconds = try await Self.secondsToEnd(["serve", pipeline, "--port", "0", "--cache", "off"], in: directory) {
            $0.contains("127.0.0.1:")
        }
        #expect(seconds < 1, "serve took \(seconds) s to end after SIGTERM")
    }

    @Test(arguments: [
        #"postgres://ana b"c@db host/x y"#, "postgres://strata@127.0.0.1:99999/studies", "postgres://strata@/studies",
        "postgres://strata@127.0.0.1:5432/stu\ndies",
    ])
    func aStoreURLThatDoesNotParseIsRefusedAtOnce(url: String) async throws {
        let space = packageRoot.appendingPathComponent("Pipelines/searches/local-gsm.yaml").path
        let started = Date()
        let outcome = try await StrataBinary.run(["search", space, "--store", url], in: try temporaryDirectory())
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("--store"), "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("waiting for"), "\(outcome.stderr)")
    }

    @Test func aStoreThatNeverAnswersIsGivenUpOnWithinSeconds() async throws {
        let closed = try ClosedPort()
        let store = "postgres://strata@127.0.0.1:\(closed.port)/studies?sslmode=disable"
        let space = packageRoot.appendingPathComponent("Pipelines/searches/local-gsm.yaml").path
        let started = Date()
        let outcome = try await StrataBinary.run(["search", space, "--store", store], in: try temporaryDirectory())
        let seconds = Date().timeIntervalSince(started)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("is the server running"), "\(outcome.stderr)")
        // The first-contact tolerance is 8 s (10 s with the slow-answer grace; 10.1 s measured alone); a store that
        // answered once gets its full outage tolerance (120 s) instead. The bound tells the two apart with room for
        // the whole suite loading two cores, which has stretched the process's 10 s to 21 s.
        #expect(seconds < 40, "gave up after \(seconds) s")
        withExtendedLifetime(closed) {}
    }
}
