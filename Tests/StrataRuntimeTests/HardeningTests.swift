import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Synchronization
import Testing

/// A reply that is hard to read never turns good candidates into a failed query.
@Suite struct UnreadableReplyTests {
    /// The small model's habits: the solution in the first block and the tests in a second; tests inside
    /// `check(candidate)`; a unittest class; asserts without a fence; a loop over cases.
    @Test func testsAreFoundWhereverTheWriterPutsThem() {
        let twoBlocks = """
            Here is the solution:
            ```python
            def add(a, b):
                return a + b
            ```
            And the tests:
            ```python
            assert add(1, 2) == 3
            assert add(-1, 1) == 0
            ```
            """
        #expect(ReplyParsersProbe.assertions(twoBlocks) == ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"])
        let checkFunction = """
            ```python
            def add(a, b):
                return a + b

            def check(candidate):
                expected = 3
                assert candidate(1, 2) == expected
                assert candidate(0, 0) == 0

            check(add)
            ```
            """
        #expect(
            ReplyParsersProbe.assertions(checkFunction) == [
                "expected = 3\ncandidate = add\nassert candidate(1, 2) == expected", "expected = 3\ncandidate = add\nassert candidate(0, 0) == 0",
            ])
        let unittest = """
            ```python
            import unittest
            class TestAdd(unittest.TestCase):
                def test_add(self):
                    self.assertEqual(add(1, 2), 3)
                    self.assertTrue(add(0, 0) == 0)
            ```
            """
        #expect(ReplyParsersProbe.assertions(unittest) == ["import unittest\nassert (add(1, 2)) == (3)", "import unittest\nassert (add(0, 0) == 0)"])
        let unfenced = "Tests:\nassert is_even(2)\nassert not is_even(3)\n"
        #expect(ReplyParsersProbe.assertions(unfenced) == ["assert is_even(2)", "assert not is_even(3)"])
        let loop = "```python\ncases = [(1, 2, 3), (2, 2, 4)]\nfor a, b, total in cases:\n    assert add(a, b) == total\n```"
        #expect(ReplyParsersProbe.assertions(loop) == ["cases = [(1, 2, 3), (2, 2, 4)]\nfor a, b, total in cases:\n    assert add(a, b) == total"])
        let multiline = "```python\nassert add(\n    1,\n    2,\n) == 3\n```"
        #expect(ReplyParsersProbe.assertions(multiline) == ["assert add( 1, 2, ) == 3"])
        // A writer that wrote the function, keeping the task's doctests; prints and multi-line outputs are left out.
        let doctests = """
            ```python
            def add(a, b):
                \"\"\" Adds.
                >>> add(1, 2)
                3
                >>> add(-1, 1)
                0
                >>> print(add(0, 0))
                0
                >>> pair(1, 2)
                [1,
                \"\"\"
                return a + b
            ```
            """
        #expect(ReplyParsersProbe.assertions(doctests) == ["assert (add(1, 2)) == (3)", "assert (add(-1, 1)) == (0)"])
        let both = "```python\ndef add(a, b):\n    \"\"\"\n    >>> add(1, 2)\n    3\n    \"\"\"\n    return a + b\n\nassert add(2, 2) == 4\n```"
        #expect(ReplyParsersProbe.assertions(both) == ["assert add(2, 2) == 4"], "asserts come first")
    }

    /// A query that ends with its own reply format ("Reply with the complete function in one code block", as
    /// evaluation wraps HumanEval) made a small model write the function and no tests: the writer's request now
    /// quotes the query and ends with the writer's own instruction.
    @Test func theTestWritersRequestEndsWithItsOwnInstruction() async throws {
        let prompts = Mutex<[String]>([])
        let server = try ScriptedLLMServer { request, _ in
            if request.promptText.contains("--- task ---") || request.promptText.contains("--- instruction ---") {
                prompts.withLock { $0.append(request.promptText) }
                return .text("```python\nassert add(1, 2) == 3\n```")
            }
            return .text("```python\ndef add(a, b):\n    return a + b\n```")
        }
        let query = "Complete the following Python function. Reply with the complete function in one ```python code block.\n\n```python\ndef add(a, b):\n```"
        for mode in ["execute", "judge"] {
            let rt = try runtime(
                try pipeline(
                    """
                      - ensemble: [{ model: m, samples: 2 }]
                      - unit-test: { model: m, mode: \(mode), tests: 3, top_k: 1, on_empty: keep-all }
                    """, server: server))
            let result = await rt.run(Query(prompt: query))
            try await rt.shutdown()
            #expect(result.failure == nil, "\(result.failure ?? "")")
        }
        let written = prompts.withLock { $0 }
        #expect(written.count == 2)
        for prompt in written {
            let quoted = try #require(prompt.range(of: "Reply with the complete function"))
            let instruction = try #require(prompt.range(of: "Now write 3 "))
            #expect(quoted.upperBound < instruction.lowerBound, "the query comes before the writer's instruction: \(prompt)")
        }
    }

    /// 0 of 30 HumanEval items once failed with "no tests could be read": an unreadable test reply now keeps the
    /// first top_k candidates in pool order, and the query answers.
    @Test func anUnreadableTestReplyKeepsTheFirstCandidates() async throws {
        let server = try ScriptedLLMServer { request, _ in
            if request.promptText.contains("unit tests") || request.promptText.contains("assert") {
                return .text("I would test it with a few inputs, for example small and large ones.")
            }
            return .text("```python\ndef add(a, b):\n    return a + b  # seed \(request.seed ?? 0)\n```")
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 3 }]
                  - unit-test: { model: m, mode: execute, tests: 3, top_k: 1, on_empty: keep-all }
                """, server: server))
        let result = await rt.run(Query(prompt: "Write add(a, b)."))
        try await rt.shutdown()
        #expect(result.failure == nil, "\(result.failure ?? "")")
        #expect(result.layers[1].candidates.map(\.origin) == ["m#0"])
        #expect(result.notices.contains { $0.contains("no tests could be read") })
    }

    /// Verdicts that cannot be read are no judgement: with none judged correct, the unverified go on.
    @Test func unreadableVerdictsPassTheCandidatesOn() async throws {
        let server = try ScriptedLLMServer { request, _ in
            if request.promptText.contains("[Correct]") || request.promptText.contains("Correct") {
                return .text("Hard to say.")
            }
            return .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let rt = try runtime(
            try pipeline(
                """
                  - ensemble: [{ model: m, samples: 2 }]
                  - verify: { model: m, on_empty: fail }
                  - fuse: [m]
                """, server: server))
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.failure == nil, "\(result.failure ?? "")")
        #expect(result.layers[1].candidates.count == 2)
    }
}

/// Keys go only where they are meant to; the loopback test is an address test, not a prefix.
@Suite struct KeyRoutingTests {
    @Test func loopbackIsParsedNotMatched() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"] {
            #expect(KeyDestination.isLoopback(host), "\(host)")
        }
        for host in ["127.0.0.1.evil.example", "127.evil.example", "localhost.evil.example", "a.localhost", "10.0.0.1", "::2", "1270.0.0.1", "2130706433"] {
            #expect(!KeyDestination.isLoopback(host), "\(host)")
        }
        #expect(KeyDestination.refusal(variable: "MY_KEY", baseURL: "http://127.0.0.1.nip.example:8080/v1", allowed: []) != nil)
        #expect(KeyDestination.refusal(variable: "MY_KEY", baseURL: "http://[::1]:8080/v1", allowed: []) == nil)
    }

    @Test func providerKeysGoToTheirProvidersAndOnlyKeysGoAnywhere() {
        #expect(KeyDestination.refusal(variable: "OPENAI_API_KEY", baseURL: "https://api.openai.com/v1", allowed: []) == nil)
        #expect(KeyDestination.refusal(variable: "TOGETHER_API_KEY_3", baseURL: "https://api.together.xyz/v1", allowed: []) == nil)
        #expect(KeyDestination.refusal(variable: "TOGETHER_API_KEY_3", baseURL: "https://llm.example.com/v1", allowed: []) != nil)
        #expect(KeyDestination.refusal(variable: "GROQ_API_KEY", baseURL: "https://api.openai.com/v1", allowed: []) != nil)
        for variable in ["DATABASE_URL", "PGPASSWORD", "HOME", "AWS_REGION", "KEYBOARD"] {
            #expect(KeyDestination.refusal(variable: variable, baseURL: "https://llm.example.com/v1", allowed: []) != nil, "\(variable)")
        }
        for variable in ["MY_KEY", "LLM_API_KEY", "HF_TOKEN", "VLLM_APIKEY", "API_KEY_2", "OPENAIKEY"] {
            #expect(KeyDestination.refusal(variable: variable, baseURL: "https://llm.example.com/v1", allowed: []) == nil, "\(variable)")
        }
        // The user, not the pipeline file, allows another name.
        #expect(KeyDestination.refusal(variable: "LLM_SECRET", baseURL: "https://llm.example.com/v1", allowed: ["LLM_SECRET"]) == nil)
        #expect(KeyDestination.allowedByUser(["STRATA_KEY_VARIABLES": "A_SECRET, B_PASS"]) == ["A_SECRET", "B_PASS"])
    }
}

/// Output files never lie: no rename over a device, every write checked.
@Suite struct OutputFileTests {
    @Test func aDeviceIsWrittenThroughAndAFullDiskIsAnError() throws {
        try OutputFile.write("report", to: "/dev/null")
        var info = stat()
        #expect(stat("/dev/null", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
        #expect(throws: OutputFile.Failure.self) { try OutputFile.write("report", to: "/dev/full") }
        do {
            try OutputFile.write("x", to: "/dev/full")
        } catch {
            #expect("\(error)".contains("the disk is full"))
        }
        #expect(stat("/dev/full", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
    }

    @Test func aRegularFileIsReplacedWholeAndADirectoryRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("report.html").path
        try OutputFile.write("old", to: path)
        chmod(path, 0o640)
        try OutputFile.write("new", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new")
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o640)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["report.html"])
        #expect(throws: OutputFile.Failure.self) { try OutputFile.write("x", to: directory.path) }
    }

    @Test func aTraceOnAFullDiskFailsTheShutdownInsteadOfCrashing() async throws {
        let server = try ScriptedLLMServer()
        let trace = try TraceWriter(path: "/dev/full")
        let rt = try runtime(try pipeline("  - ensemble: [{ model: m, samples: 2 }]\n", server: server), trace: trace)
        let result = await rt.run(Query(prompt: "q"))
        #expect(result.answer != nil)
        await #expect(throws: OutputFile.Failure.self) { try await rt.shutdown() }
    }

    /// No `try!` anywhere in Sources: an I/O failure is an error to report, never a crash.
    @Test func noForcedTryInSources() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
        var offenders: [String] = []
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where line.contains("try!") {
                offenders.append("\(file.lastPathComponent):\(number + 1)")
            }
        }
        #expect(offenders.isEmpty, "\(offenders)")
    }
}

/// The cache never lies and never stops a run.
@Suite struct CacheIntegrityTests {
    @Test func aDamagedEntryIsAMissWithAWarning() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("cache.sqlite").path
        let server = try ScriptedLLMServer()
        let layers = "  - ensemble: [{ model: m, samples: 1 }]\n"
        let first = try runtime(try pipeline(layers, server: server), cache: try ResponseCache(path: path))
        let original = await first.run(Query(prompt: "q"))
        try await first.shutdown()
        // Change bytes inside the stored reply, keeping it valid JSON.
        let sqlite = try StrataBinary.runBlocking(
            [
                "python3", "-c",
                "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); d.execute(\"UPDATE responses SET response = CAST(replace(CAST(response AS TEXT), 'answer', 'ANSWER') AS BLOB)\"); d.commit()",
                path,
            ], executable: URL(fileURLWithPath: "/usr/bin/env"))
        #expect(sqlite.status == 0)
        let warnings = Warnings()
        let second = try runtime(try pipeline(layers, server: server), cache: try ResponseCache(path: path, report: { warnings.add("\($0)") }))
        let again = await second.run(Query(prompt: "q"))
        try await second.shutdown()
        #expect(again.answer == original.answer)
        #expect(again.usage.cacheHits == 0)
        #expect(server.requestCount == 2)
        #expect(warnings.all.contains { $0.contains("does not match its checksum") }, "\(warnings.all)")
    }

    @Test func aCacheThatCannotBeOpenedIsAWarningNotAFailedRun() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-cache-dir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let warnings = Warnings()
        let cache = try ResponseCache(path: directory.path, report: { warnings.add("\($0)") })
        let server = try ScriptedLLMServer()
        let rt = try runtime(try pipeline("  - ensemble: [{ model: m, samples: 1 }]\n", server: server), cache: cache)
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(result.answer != nil)
        #expect(warnings.all.contains { $0.contains("running without the cache") }, "\(warnings.all)")
    }
}

/// A refused connection is said at once, with what to do.
@Suite struct RefusedEndpointTests {
    @Test func nothingListeningFailsTheFirstCallQuickly() async throws {
        // A port held bound but not listening: refused, and no test running beside this one can take it.
        let closed = try ClosedPort()
        let checked = try compiled(
            """
            strata: 1
            models:
              m: { provider: openai-compatible, model: test, base_url: "http://127.0.0.1:\(closed.port)/v1" }
            layers:
              - ensemble: [{ model: m, samples: 1 }]
            """, path: "closed.yaml"
        ).pipeline
        let rt = try PipelineRuntime(
            pipeline: checked,
            options: RuntimeOptions(retry: RetryPolicy(maxAttempts: 6, baseDelay: 2, maxDelay: 8), timeouts: Timeouts(connect: 10, read: 30, total: 60)))
        let clock = ContinuousClock()
        let started = clock.now
        let result = await rt.run(Query(prompt: "q"))
        try await rt.shutdown()
        #expect(clock.now - started < .seconds(5))
        #expect(result.answer == nil)
        let said = (result.failure ?? "") + result.notices.joined()
        #expect(said.contains("nothing listens on 127.0.0.1:"), "\(said)")
        withExtendedLifetime(closed) {}
    }
}

final class Warnings: Sendable {
    private let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
