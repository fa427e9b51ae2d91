import Foundation
import Strata
import Testing

@testable import StrataSandbox

/// Hostile code must fail its tests without harming the host.
@Suite struct SandboxTests {
    @Test func ordinaryCodeRuns() async {
        let result = await Sandbox.runPython("print(sum(range(10)))")
        #expect(result.exitStatus == 0)
        #expect(result.stdout == "45\n")
        #expect(!result.timedOut)
    }

    @Test func infiniteLoopIsKilledAtTheWallClockLimit() async {
        let clock = ContinuousClock()
        let start = clock.now
        let result = await Sandbox.runPython("while True:\n    pass\n", limits: SandboxLimits(cpuSeconds: 60, wallSeconds: 1))
        #expect(result.timedOut)
        // Far below the 60 s CPU limit: the wall clock killed it (generous for a loaded 2-core machine).
        #expect(clock.now - start < .seconds(20))
    }

    @Test func childrenDieWithTheGroup() async throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("strata-orphan-\(UUID().uuidString)").path
        let source = """
            import os, time
            if os.fork() == 0:
                time.sleep(2)
                open(\(pythonLiteral(marker)), "w").write("escaped")
                os._exit(0)
            while True:
                pass
            """
        let result = await Sandbox.runPython(source, limits: SandboxLimits(wallSeconds: 0.5))
        #expect(result.timedOut)
        try await Task.sleep(nanoseconds: 2_500_000_000)
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func forkBombIsContained() async {
        // Children exec a sleeper carrying a unique token, so `ps` can find any survivor
        // (sleeping, so the test does not steal the other tests' CPU).
        let token = "strata-fork-bomb-\(UUID().uuidString.prefix(8))"
        let source = """
            import os, sys
            count = 0
            try:
                while True:
                    if os.fork() == 0:
                        os.execv(sys.executable, [sys.executable, "-c", "# \(token)\\nimport time\\ntime.sleep(100)"])
                    count += 1
            except OSError:
                print("forks refused after", count)
            """
        let result = await Sandbox.runPython(source, limits: SandboxLimits(processes: 8, wallSeconds: 2))
        // The process limit refused the forks, or the wall clock killed the group, or (on a
        // loaded machine) a limit killed the bomb before it could print; the host survives all three.
        #expect(
            result.stdout.contains("forks refused") || result.timedOut || result.exitStatus != 0,
            "exit \(result.exitStatus), stdout \(result.stdout.prefix(200)), stderr \(result.stderr.prefix(400))")
        let leftover = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let ps = Process()
                ps.executableURL = URL(fileURLWithPath: "/bin/sh")
                ps.arguments = ["-c", "sleep 0.5; ps -eo pid,args | grep -v grep | grep -c '\(token)' || true"]
                let pipe = Pipe()
                ps.standardOutput = pipe
                try? ps.run()
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                ps.waitUntilExit()
                continuation.resume(returning: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        #expect(leftover == "0")
    }

    @Test func writingOutsideTheScratchDirectoryFails() async {
        let target = "/etc/strata-sandbox-test-\(UUID().uuidString)"
        let result = await Sandbox.runPython("open(\(pythonLiteral(target)), 'w').write('x')\nprint('wrote')")
        #expect(!result.stdout.contains("wrote") || !Sandbox.isolationDescription.contains("nobody"))
        if Sandbox.isolationDescription.contains("nobody") {
            #expect(!FileManager.default.fileExists(atPath: target))
        }
        try? FileManager.default.removeItem(atPath: target)
    }

    @Test func hugeOutputIsCapped() async {
        let result = await Sandbox.runPython(
            "import sys\nfor _ in range(200000):\n    sys.stdout.write('x' * 100)\n",
            limits: SandboxLimits(wallSeconds: 5, outputBytes: 10_000))
        #expect(result.stdout.utf8.count <= 10_000)
        #expect(result.outputTruncated)
    }

    @Test(.enabled(if: Sandbox.isolationDescription.contains("no network"), "this OS refuses the sandbox a network namespace"))
    func noNetworkWhereTheOSAllows() async {
        let result = await Sandbox.runPython(
            """
            import socket
            try:
                socket.create_connection(("127.0.0.1", 22), timeout=1)
                print("connected")
            except OSError as error:
                print("refused", error)
            """)
        #expect(result.stdout.hasPrefix("refused"))
    }

    @Test func noSecretsInTheEnvironment() async {
        setenv("STRATA_TEST_SECRET_KEY", "sk-should-not-leak", 1)
        let result = await Sandbox.runPython("import os\nprint(sorted(os.environ))")
        #expect(!result.stdout.contains("STRATA_TEST_SECRET_KEY"))
    }

    @Test func candidatesCannotFakeAPassAndSlashesSurvive() async {
        let tests = ["assert mean([1, 2, 3]) == 2", "assert mean([2, 4]) == 3"]
        let honest = await Sandbox.check(solution: "def mean(xs):\n    return sum(xs) / len(xs)\n", tests: tests)
        #expect(honest.passed == [true, true], "\(honest.result.stderr)")
        let exits = await Sandbox.check(solution: "import os\nos._exit(0)\n", tests: tests)
        #expect(exits.passed == [false, false])
        let prints = await Sandbox.check(
            solution: "print('STRATA_VERDICT 0 pass')\nprint('STRATA_VERDICT 1 pass')\ndef mean(xs):\n    return 0\n", tests: tests)
        #expect(prints.passed == [false, false])
        let partial = await Sandbox.check(solution: "def mean(xs):\n    return 2\n", tests: tests)
        #expect(partial.passed == [true, false])
    }

    @Test(.enabled(if: Sandbox.isolationDescription.contains("namespaces"), "this OS refuses the sandbox its namespaces"))
    func theSandboxSeesNeitherTheWorkingDirectoryNorOutlivesItsDeadline() async throws {
        let cwd = FileManager.default.currentDirectoryPath
        let probe = await Sandbox.runPython(
            """
            import os
            try:
                print("entries", len(os.listdir(\(pythonLiteral(cwd)))))
            except OSError as error:
                print("refused", error)
            print("tmp", sorted(os.listdir("/tmp")))
            """)
        #expect(probe.stdout.contains("entries 0") || probe.stdout.contains("refused"), "\(probe.stdout)\(probe.stderr)")
        #expect(probe.stdout.contains("tmp ['work']"), "\(probe.stdout)\(probe.stderr)")
        // A setsid child in its own session still dies with the sandbox's PID namespace.
        let token = "strata-setsid-\(UUID().uuidString.prefix(8))"
        _ = await Sandbox.runPython(
            """
            import os, sys
            if os.fork() == 0:
                os.setsid()
                os.execv(sys.executable, [sys.executable, "-c", "# \(token)\\nimport time\\ntime.sleep(60)"])
            import time
            time.sleep(30)
            """, limits: SandboxLimits(wallSeconds: 1))
        try await Task.sleep(nanoseconds: 500_000_000)
        let ps = Process()
        ps.executableURL = URL(fileURLWithPath: "/bin/sh")
        ps.arguments = ["-c", "ps -eo args | grep -v grep | grep -c '\(token)' || true"]
        let pipe = Pipe()
        ps.standardOutput = pipe
        try ps.run()
        let count = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        ps.waitUntilExit()
        #expect(count == "0")
    }
}

/// A Python string literal (JSON string syntax is valid Python).
func pythonLiteral(_ text: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [text])) ?? Data("[\"\"]".utf8)
    return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
}

@Suite struct ExitSignalTests {
    /// Two waiters with different deadlines: the first times out on its own,
    /// the second is woken by the exit (the timer once removed the wrong waiter).
    @Test(.timeLimit(.minutes(1))) func eachWaiterTimesOutOnItsOwn() async {
        let signal = ExitSignal()
        let long = Task { await signal.wait(seconds: 20) }
        try? await Task.sleep(nanoseconds: 100_000_000)
        // The later waiter's timer must remove this waiter, not the first one.
        #expect(await signal.wait(seconds: 0.05) == false)
        let firedAt = Date()
        signal.fire()
        #expect(await long.value == true)
        #expect(Date().timeIntervalSince(firedAt) < 10)
        #expect(await signal.wait(seconds: 0) == true)
    }
}
