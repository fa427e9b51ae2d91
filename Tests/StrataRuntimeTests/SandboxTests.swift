import Foundation
import Strata
import Testing

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
                open(\(TestHarness.pythonString(marker)), "w").write("escaped")
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
        // Either the process limit refused the forks, or the wall clock killed the group; the host survives both.
        #expect(result.stdout.contains("forks refused") || result.timedOut)
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
        let result = await Sandbox.runPython("open(\(TestHarness.pythonString(target)), 'w').write('x')\nprint('wrote')")
        #expect(!result.stdout.contains("wrote") || !Sandbox.isolationDescription.contains("nobody"))
        if Sandbox.isolationDescription.contains("nobody") {
            #expect(!FileManager.default.fileExists(atPath: target))
        }
        try? FileManager.default.removeItem(atPath: target)
    }

    @Test func hugeOutputIsCapped() async {
        let result = await Sandbox.runPython("import sys\nfor _ in range(200000):\n    sys.stdout.write('x' * 100)\n",
                                             limits: SandboxLimits(wallSeconds: 5, outputBytes: 10_000))
        #expect(result.stdout.utf8.count <= 10_000)
        #expect(result.outputTruncated)
    }

    @Test func noNetworkWhereTheOSAllows() async {
        guard Sandbox.isolationDescription.contains("no network") else { return }
        let result = await Sandbox.runPython("""
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
}
