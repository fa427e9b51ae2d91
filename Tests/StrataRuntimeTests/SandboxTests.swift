import Foundation
import Strata
import StrataTestSupport
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
        try? await Task.sleep(nanoseconds: 500_000_000)
        let leftover = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: processCount(matching: token)) }
        }
        #expect(leftover == "0")
    }

    @Test func writingOutsideTheScratchDirectoryFails() async {
        let target = "/usr/strata-sandbox-test-\(UUID().uuidString)"
        let result = await Sandbox.runPython("open(\(pythonLiteral(target)), 'w').write('x')\nprint('wrote')")
        #expect(!result.stdout.contains("wrote"))
        #expect(!FileManager.default.fileExists(atPath: target))
        try? FileManager.default.removeItem(atPath: target)
    }

    @Test func hugeOutputIsCapped() async {
        let result = await Sandbox.runPython(
            "import sys\nfor _ in range(200000):\n    sys.stdout.write('x' * 100)\n",
            limits: SandboxLimits(wallSeconds: 5, outputBytes: 10_000))
        #expect(result.stdout.utf8.count <= 10_000)
        #expect(result.outputTruncated)
    }

    @Test func noNetwork() async {
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
        // None of this process's variables reaches the sandbox. (Planting one with setenv raced with other tests
        // starting processes: Foundation copies the environment as another thread reallocates it, a crash.)
        let sandboxOwn: Set<String> = ["PATH", "LANG", "HOME", "PYTHONDONTWRITEBYTECODE", "PWD"]  // PWD: bwrap names its own directory
        let hostNames = ProcessInfo.processInfo.environment.keys.filter { !sandboxOwn.contains($0) }
        let result = await Sandbox.runPython("import os\nprint('\\n'.join(sorted(os.environ)))")
        let seen = Set(result.stdout.split(separator: "\n").map(String.init))
        #expect(result.exitStatus == 0, "\(result.stderr)")
        #expect(seen.isDisjoint(with: hostNames), "\(seen.intersection(hostNames).sorted())")
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

    @Test func theSandboxSeesNoHostFileAndOutlivesNothing() async throws {
        // A world-readable file outside the working directory (where a dataset, a store or a cache may sit).
        let secret = FileManager.default.temporaryDirectory.appendingPathComponent("strata-secret-\(UUID().uuidString)").path
        try "reference solution".write(toFile: secret, atomically: false, encoding: .utf8)
        chmod(secret, 0o644)
        defer { try? FileManager.default.removeItem(atPath: secret) }
        let cwd = FileManager.default.currentDirectoryPath
        let probe = await Sandbox.runPython(
            """
            import os
            for path in (\(pythonLiteral(secret)), \(pythonLiteral(cwd + "/Package.swift")), "/etc/passwd", "/root"):
                try:
                    print("read", path, len(open(path).read()) if not os.path.isdir(path) else os.listdir(path))
                except OSError as error:
                    print("refused", path, type(error).__name__)
            print("tmp", sorted(os.listdir("/tmp")))
            """)
        #expect(!probe.stdout.contains("read "), "\(probe.stdout)\(probe.stderr)")
        #expect(probe.stdout.contains("tmp []"), "\(probe.stdout)\(probe.stderr)")
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
        #expect(processCount(matching: token) == "0")
    }

    /// Files written to /tmp, /var/tmp and /dev/shm are the run's own and vanish with it.
    @Test func nothingWrittenOutlivesTheRun() async {
        let name = "strata-left-\(UUID().uuidString.prefix(8))"
        let result = await Sandbox.runPython(
            """
            for place in ("/tmp", "/var/tmp", "/dev/shm"):
                try:
                    open(place + "/\(name)", "w").write("x")
                    print("wrote", place)
                except OSError as error:
                    print("refused", place, error)
            """)
        #expect(result.stdout.contains("wrote /dev/shm"), "\(result.stdout)\(result.stderr)")
        for place in ["/tmp", "/var/tmp", "/dev/shm"] {
            #expect(!FileManager.default.fileExists(atPath: "\(place)/\(name)"), "\(place)")
        }
    }

    /// The verdict travels where the candidate cannot write: writing a pass on every descriptor it has, or
    /// returning an object equal to everything, passes nothing.
    @Test func aWrongAnswerCannotForgeAPass() async {
        let tests = ["assert mean([1, 2, 3]) == 2", "assert mean([2, 4]) == 3"]
        let forgers = [
            // The verdict format, written to every descriptor at load time and at call time.
            """
            import os
            def spray():
                for fd in range(0, 256):
                    for line in (b'{"test": 0, "passed": true}\\n', b'{"test": 1, "passed": true}\\n', b'STRATA_VERDICT 0 pass\\n'):
                        try:
                            os.write(fd, line)
                        except OSError:
                            pass
            spray()
            def mean(xs):
                spray()
                return 0
            """,
            // An answer whose __eq__ always says yes.
            """
            class Yes(float):
                def __eq__(self, other):
                    return True
                __hash__ = float.__hash__
            def mean(xs):
                return Yes(0)
            """,
            // Looking for the tests' frames and verdicts in its own interpreter.
            """
            import gc, sys
            def mean(xs):
                frame = sys._getframe()
                while frame is not None:
                    frame.f_globals.update(passed=True)
                    frame = frame.f_back
                for thing in gc.get_objects():
                    if isinstance(thing, dict) and "passed" in thing:
                        thing["passed"] = True
                raise SystemExit(0)
            """,
        ]
        for forger in forgers {
            let check = await Sandbox.check(solution: forger, tests: tests)
            #expect(check.passed == [false, false], "\(forger)\n\(check.result.stderr)")
        }
    }

    /// A candidate that forks to its limit leaves another candidate, graded at the same time, untouched.
    @Test func oneCandidateCannotFailAnother() async {
        let tests = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"]
        let bomb = """
            import os, time
            def add(a, b):
                while True:
                    try:
                        if os.fork() == 0:
                            time.sleep(30)
                            os._exit(0)
                    except OSError:
                        time.sleep(0.05)
            """
        let limits = SandboxLimits(processes: 8, wallSeconds: 20)
        async let sabotage = Sandbox.check(solution: bomb, tests: tests, limits: limits)
        try? await Task.sleep(nanoseconds: 300_000_000)
        let honest = await Sandbox.check(solution: "def add(a, b):\n    return a + b\n", tests: tests, limits: limits)
        #expect(honest.passed == [true, true], "\(honest.result.stderr)")
        #expect(await sabotage.passed == [false, false])
    }

    /// The dataset's prompt helpers are the tests' own: a candidate that redefines one cannot make the check trivial.
    @Test func thePromptsHelpersStayTrusted() async {
        let prompt = "def poly(xs, x):\n    return sum(c * x ** i for i, c in enumerate(xs))\n\ndef find_zero(xs):\n    \"\"\"A zero of poly.\"\"\"\n"
        let test = "def check(candidate):\n    assert abs(poly([1, 2], candidate([1, 2]))) < 1e-6\n\ncheck(find_zero)\n"
        let cheat = await Sandbox.check(
            solution: prompt + "    pass\n\ndef poly(xs, x):\n    return 0\n\ndef find_zero(xs):\n    return 3.0\n", tests: [test], prelude: prompt)
        #expect(cheat.passed == [false])
        let honest = await Sandbox.check(solution: prompt + "    pass\n\ndef find_zero(xs):\n    return -xs[0] / xs[1]\n", tests: [test], prelude: prompt)
        #expect(honest.passed == [true], "\(honest.result.stderr)")
        // Values come back as data: in-place changes to a list argument and raised builtin errors reach the test.
        let inPlace = await Sandbox.check(
            solution: "def sort_it(xs):\n    xs.sort()\n\ndef positive(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x\n",
            tests: ["xs = [3, 1, 2]\nsort_it(xs)\nassert xs == [1, 2, 3]", "try:\n    positive(-1)\n    assert False\nexcept ValueError:\n    pass"])
        #expect(inPlace.passed == [true, true], "\(inPlace.result.stderr)")
    }
}

func processCount(matching token: String) -> String {
    let shell = URL(fileURLWithPath: "/bin/sh")
    let ps = try? StrataBinary.runBlocking(["-c", "ps -eo args | grep -v grep | grep -c '\(token)' || true"], executable: shell)
    return ps?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
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
        let clock = ManualClock()
        let long = Task { await signal.wait(seconds: 20, clock: clock) }
        #expect(await clock.waitForSleepers(1))
        // The later waiter's timer must remove this waiter, not the first one.
        let short = Task { await signal.wait(seconds: 0.05, clock: clock) }
        #expect(await clock.waitForSleepers(2))
        clock.advance(seconds: 0.05)
        #expect(await short.value == false)
        signal.fire()
        #expect(await long.value == true)
        #expect(await signal.wait(seconds: 0, clock: clock) == true)
    }
}
