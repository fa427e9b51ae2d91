import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Limits on one sandboxed run.
public struct SandboxLimits: Sendable, Hashable {
    /// CPU seconds before the kernel kills the process.
    public var cpuSeconds: Int
    /// Address space, in megabytes.
    public var memoryMB: Int
    /// Largest file it may write, in megabytes.
    public var fileSizeMB: Int
    /// Processes the run may have at once (counted in the run's own user namespace: one run cannot use up another's).
    public var processes: Int
    /// Wall-clock seconds before the process group is killed.
    public var wallSeconds: Double
    /// Bytes of stdout and of stderr kept; the rest is read and dropped.
    public var outputBytes: Int

    /// Limits for one sandboxed run.
    public init(cpuSeconds: Int = 5, memoryMB: Int = 512, fileSizeMB: Int = 8, processes: Int = 16, wallSeconds: Double = 10, outputBytes: Int = 64 * 1024) {
        self.cpuSeconds = cpuSeconds
        self.memoryMB = memoryMB
        self.fileSizeMB = fileSizeMB
        self.processes = processes
        self.wallSeconds = wallSeconds
        self.outputBytes = outputBytes
    }
}

/// What a sandboxed run did.
public struct SandboxResult: Sendable, Hashable, Codable {
    /// The process's exit status.
    public var exitStatus: Int32
    /// What it printed, cut at the output limit.
    public var stdout: String
    /// What it printed to standard error, cut at the output limit.
    public var stderr: String
    /// Whether the wall-clock limit killed it.
    public var timedOut: Bool
    /// Whether its output was cut.
    public var outputTruncated: Bool
    /// Wall-clock seconds it ran.
    public var seconds: Double
    /// The isolation that was in force, in words.
    public var isolation: String
}

/// Runs untrusted Python (code written by a model) under bubblewrap: each run
/// in fresh namespaces with its own process limit, seeing only the system's
/// programs read-only and its own files, with no network and scratch space
/// that dies with it. Grading (`check`) runs the candidate and the tests in
/// two such sandboxes; the verdict is the tests' process's, written where the
/// candidate cannot reach, and values cross between them as plain data.
/// Where bubblewrap cannot run, every run fails with the reason (never
/// unsandboxed).
public enum Sandbox {
    /// The isolation in force on this machine, in words (or why there is none).
    public static var isolationDescription: String {
        Bubblewrap.unavailable.map { "no sandbox: \($0)" } ?? Bubblewrap.description
    }

    /// Runs `source` as a program under `limits`.
    public static func runPython(_ source: String, limits: SandboxLimits = SandboxLimits()) async -> SandboxResult {
        let started = ContinuousClock.now
        if let refusal = await offPool({ Bubblewrap.unavailable }) { return .refused(refusal) }
        let directory: RunDirectory
        do { directory = try RunDirectory(files: ["main.py": source, "single.py": SandboxScripts.single]) } catch {
            return .refused("cannot prepare the run's files: \(error)")
        }
        defer { directory.remove() }
        guard let command = Bubblewrap.command(directory: directory.path, script: "single.py", arguments: [], limits: limits) else {
            return .refused("the sandbox cannot be started")
        }
        let run = SandboxedProcess(command: command, outputBytes: limits.outputBytes)
        do { try run.start(input: FileHandle.nullDevice) } catch { return .refused("cannot start the sandbox: \(error)") }
        let finished = await run.waitForExit(seconds: limits.wallSeconds)
        run.kill()
        if !finished { _ = await run.exit.wait(seconds: 5) }
        let out = await offPool { run.stdout?.finish(within: 1) ?? (data: Data(), truncated: false) }
        let err = await offPool { run.stderr.finish(within: 1) }
        return SandboxResult(
            exitStatus: finished ? run.terminationStatus : -9, stdout: String(decoding: out.data, as: UTF8.self),
            stderr: String(decoding: err.data, as: UTF8.self), timedOut: !finished, outputTruncated: out.truncated || err.truncated,
            seconds: (ContinuousClock.now - started).seconds, isolation: Bubblewrap.description)
    }

    /// Runs `solution` against each of `tests` (Python sources), each test
    /// against a fresh load of the solution, and returns which passed. With a
    /// `prelude` (a dataset's prompt), the tests see its implemented helpers
    /// as written there, not as the candidate may have redefined them. The
    /// result's stdout is the candidate's own output; its stderr says why
    /// each failed test failed.
    public static func check(
        solution: String, tests: [String], prelude: String? = nil, limits: SandboxLimits = SandboxLimits()
    )
        async -> (passed: [Bool], result: SandboxResult)
    {
        let started = ContinuousClock.now
        let failed = [Bool](repeating: false, count: tests.count)
        if let refusal = await offPool({ Bubblewrap.unavailable }) { return (failed, .refused(refusal)) }
        let candidateFiles = ["solution.py": solution, "candidate.py": SandboxScripts.candidate]
        var testerFiles = ["tester.py": SandboxScripts.tester]
        for (index, test) in tests.enumerated() { testerFiles["tests/\(index).py"] = test }
        if let prelude { testerFiles["prelude.py"] = prelude }
        let candidateDirectory: RunDirectory, testerDirectory: RunDirectory
        do {
            candidateDirectory = try RunDirectory(files: candidateFiles)
            testerDirectory = try RunDirectory(files: testerFiles)
        } catch {
            return (failed, .refused("cannot prepare the run's files: \(error)"))
        }
        defer {
            candidateDirectory.remove()
            testerDirectory.remove()
        }
        // Each test gets at most its share of the wall clock in the candidate's sandbox.
        let perTest = String(max(1, min(limits.wallSeconds, Double(limits.cpuSeconds) + 1)))
        guard let candidateCommand = Bubblewrap.command(directory: candidateDirectory.path, script: "candidate.py", arguments: [perTest], limits: limits),
            let testerCommand = Bubblewrap.command(directory: testerDirectory.path, script: "tester.py", arguments: [perTest], limits: limits)
        else { return (failed, .refused("the sandbox cannot be started")) }
        let requests = Pipe(), replies = Pipe()
        let tester = SandboxedProcess(command: testerCommand, outputBytes: limits.outputBytes, output: requests)
        let candidate = SandboxedProcess(command: candidateCommand, outputBytes: limits.outputBytes, output: replies)
        do {
            // The tester starts first and its verdict pipe's write end is closed here before the candidate
            // starts, so no copy of it can reach the candidate's process.
            try tester.start(input: replies.fileHandleForReading)
            try candidate.start(input: requests.fileHandleForReading)
        } catch {
            tester.kill()
            candidate.kill()
            return (failed, .refused("cannot start the sandbox: \(error)"))
        }
        for end in [requests.fileHandleForReading, requests.fileHandleForWriting, replies.fileHandleForReading, replies.fileHandleForWriting] {
            try? end.close()
        }
        let finished = await tester.waitForExit(seconds: limits.wallSeconds)
        tester.kill()
        candidate.kill()
        if !finished { _ = await tester.exit.wait(seconds: 5) }
        _ = await candidate.exit.wait(seconds: 5)
        let verdictText = await offPool { tester.stderr.finish(within: 1) }
        let candidateOut = await offPool { candidate.stderr.finish(within: 1) }
        var passed = failed
        var details: [String] = []
        for line in verdictText.data.split(separator: UInt8(ascii: "\n")) {
            guard let verdict = try? JSONDecoder().decode(Verdict.self, from: Data(line)), passed.indices.contains(verdict.test) else { continue }
            passed[verdict.test] = verdict.passed
            if let detail = verdict.detail { details.append(detail) }
        }
        if !finished { details.append("timed out after \(limits.wallSeconds) s") }
        // A test whose candidate outran its time counts as timed out, as the whole run would.
        let outran = !finished || details.contains { $0.contains("timed out after") }
        let result = SandboxResult(
            exitStatus: finished ? tester.terminationStatus : -9, stdout: String(decoding: candidateOut.data, as: UTF8.self),
            stderr: details.joined(separator: "\n"), timedOut: outran, outputTruncated: candidateOut.truncated || verdictText.truncated,
            seconds: (ContinuousClock.now - started).seconds, isolation: Bubblewrap.description)
        return (passed, result)
    }

    struct Verdict: Decodable {
        var test: Int
        var passed: Bool
        var detail: String?
    }
}

extension SandboxResult {
    static func refused(_ reason: String) -> SandboxResult {
        SandboxResult(exitStatus: -1, stdout: "", stderr: reason, timedOut: false, outputTruncated: false, seconds: 0, isolation: "none: \(reason)")
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// A directory of one run's files, readable by the run's own uid (the
/// sandbox sees it read-only at /sandbox), under a parent that cannot be listed.
struct RunDirectory {
    let path: String

    init(files: [String: String]) throws {
        let manager = FileManager.default
        let parent = manager.temporaryDirectory.appendingPathComponent("strata-sandbox-\(getuid())")
        try manager.createDirectory(at: parent, withIntermediateDirectories: true)
        chmod(parent.path, 0o711)
        let directory = parent.appendingPathComponent(UUID().uuidString)
        try manager.createDirectory(at: directory, withIntermediateDirectories: false)
        path = directory.path
        for (name, text) in files {
            let url = directory.appendingPathComponent(name)
            try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            chmod(url.deletingLastPathComponent().path, 0o755)
            try Data(text.utf8).write(to: url)
            chmod(url.path, 0o644)
        }
        chmod(path, 0o755)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
