import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Limits on one sandboxed run.
public struct SandboxLimits: Sendable, Hashable {
    public var cpuSeconds: Int
    public var memoryMB: Int
    public var fileSizeMB: Int
    public var processes: Int
    public var wallSeconds: Double
    /// Bytes of stdout and of stderr kept; the rest is read and dropped.
    public var outputBytes: Int

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
    public var exitStatus: Int32
    public var stdout: String
    public var stderr: String
    public var timedOut: Bool
    public var outputTruncated: Bool
    public var seconds: Double
    /// The isolation that was in force (e.g. "own process group, rlimits, no network, uid nobody").
    public var isolation: String
}

/// Runs untrusted Python (code written by a model) in a subprocess. Where the
/// OS allows (root, or unprivileged user namespaces): its own PID, mount and
/// network namespaces — so everything it starts dies with it, even a `setsid`
/// child — a private `/tmp` holding only the run's files, the working
/// directory, home and `/run` hidden, `no_new_privs`, and uid nobody when
/// started as root. Everywhere: rlimits set with `setrlimit` in the child (CPU,
/// memory, file size, processes, no core files), its own process group killed
/// at the wall-clock limit, a clean environment (no API keys), capped output.
/// `isolationDescription` says which of these are in force.
public enum Sandbox {
    struct Isolation {
        var prefix: [String]
        var description: String
        var privateMounts: Bool
        var dropToNobody: Bool
    }

    static let namespaces = ["--pid", "--fork", "--kill-child", "--mount", "--mount-proc", "--net"]

    /// Probed once: which isolation this machine allows.
    static let isolation: Isolation = {
        let unshare = "/usr/bin/unshare"
        var parts = ["own process group", "rlimits (setrlimit)", "no_new_privs", "clean environment"]
        if getuid() == 0, probe([unshare] + namespaces + ["/bin/true"]) {
            parts += ["PID, mount and network namespaces", "private /tmp", "working directory and home hidden", "uid nobody"]
            return Isolation(prefix: [unshare] + namespaces, description: parts.joined(separator: ", "), privateMounts: true, dropToNobody: true)
        }
        let user = [unshare, "--user", "--map-root-user"] + namespaces
        if probe(user + ["/bin/true"]) {
            parts += ["user, PID, mount and network namespaces", "private /tmp", "working directory and home hidden"]
            return Isolation(prefix: user, description: parts.joined(separator: ", "), privateMounts: true, dropToNobody: false)
        }
        // No namespaces here: rlimits and the process group are all there is.
        parts += ["scratch directory (no namespaces available: the file system and network are visible)"]
        return Isolation(prefix: [], description: parts.joined(separator: ", "), privateMounts: false, dropToNobody: getuid() == 0)
    }()

    /// The isolation in force on this machine, in words.
    public static var isolationDescription: String { isolation.description }

    static func probe(_ command: [String]) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: command[0]) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// The Python interpreter, found on the usual paths.
    static let python: String? =
        ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
        ?? ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { "\($0)/python3" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Directories the sandbox must not see: where strata runs (datasets,
    /// stores, caches live there), home directories and sockets — except one
    /// that holds the interpreter itself.
    static func hiddenDirectories(python: String) -> [String] {
        let interpreter = URL(fileURLWithPath: python).resolvingSymlinksInPath().path
        let candidates = [
            FileManager.default.currentDirectoryPath, ProcessInfo.processInfo.environment["HOME"] ?? "", "/home", "/root", "/run", "/srv", "/mnt", "/media",
        ]
        return Array(Set(candidates.filter { !$0.isEmpty && $0 != "/" && !interpreter.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") })).sorted()
    }

    /// Runs `source` with `python3 -I` under `limits`.
    public static func runPython(_ source: String, limits: SandboxLimits = SandboxLimits()) async -> SandboxResult {
        await run(files: ["main.py": source], main: "main.py", limits: limits)
    }

    /// Runs `solution` against each of `tests` (Python sources), each test in
    /// a process of its own, and returns which passed. Code and tests travel as
    /// files; the verdict comes from a trusted checker, never from the
    /// candidate's output or exit status.
    public static func check(solution: String, tests: [String], limits: SandboxLimits = SandboxLimits()) async -> (passed: [Bool], result: SandboxResult) {
        var files = ["checker.py": SandboxScripts.checker, "solution.py": solution]
        for (index, test) in tests.enumerated() { files["tests/\(index).py"] = test }
        let result = await run(files: files, main: "checker.py", limits: limits)
        var passed = [Bool](repeating: false, count: tests.count)
        if !result.timedOut {
            for line in result.stdout.split(separator: "\n") where line.hasPrefix("STRATA_VERDICT ") {
                let parts = line.split(separator: " ")
                if parts.count == 3, let index = Int(parts[1]), passed.indices.contains(index) { passed[index] = parts[2] == "pass" }
            }
        }
        return (passed, result)
    }

    static func run(files: [String: String], main: String, limits: SandboxLimits) async -> SandboxResult {
        // The first use probes the machine with subprocesses: keep that off the cooperative thread pool.
        let isolation = await offPool { Self.isolation }
        guard let python else {
            return SandboxResult(
                exitStatus: -1, stdout: "", stderr: "python3 not found", timedOut: false, outputTruncated: false,
                seconds: 0, isolation: isolation.description)
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("strata-sandbox-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            for (name, text) in files {
                let url = scratch.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: url, atomically: false, encoding: .utf8)
            }
            let config: [String: Any] = [
                "scratch": scratch.path, "files": Array(files.keys), "main": main, "python": python,
                "private_mounts": isolation.privateMounts, "drop_to_nobody": isolation.dropToNobody,
                "hide": hiddenDirectories(python: python), "tmp_mb": max(8, limits.fileSizeMB * 4),
                "limits": [
                    "cpu": limits.cpuSeconds, "memory": limits.memoryMB * 1024 * 1024, "file": limits.fileSizeMB * 1024 * 1024,
                    "processes": limits.processes,
                ],
                "environment": ["PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"],
            ]
            try JSONSerialization.data(withJSONObject: config).write(to: scratch.appendingPathComponent("sandbox.json"))
            try SandboxScripts.launcher.write(to: scratch.appendingPathComponent("launcher.py"), atomically: false, encoding: .utf8)
            if isolation.dropToNobody, !isolation.privateMounts {
                // Without a private /tmp the run works in the scratch directory itself, as nobody.
                for path in (try? FileManager.default.subpathsOfDirectory(atPath: scratch.path)) ?? [] {
                    chmod(scratch.appendingPathComponent(path).path, 0o777)
                }
                chmod(scratch.path, 0o777)
            }
        } catch {
            return SandboxResult(
                exitStatus: -1, stdout: "", stderr: "cannot prepare the scratch directory: \(error)", timedOut: false,
                outputTruncated: false, seconds: 0, isolation: isolation.description)
        }
        let command =
            isolation.prefix + [
                python, "-I", "-S", "-B", scratch.appendingPathComponent("launcher.py").path,
                scratch.appendingPathComponent("sandbox.json").path,
            ]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.currentDirectoryURL = scratch
        process.environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        let start = Date()
        let outReader = CappedReader(handle: stdout.fileHandleForReading, cap: limits.outputBytes)
        let errReader = CappedReader(handle: stderr.fileHandleForReading, cap: limits.outputBytes)
        let exited = ExitSignal()
        process.terminationHandler = { _ in exited.fire() }
        do {
            try process.run()
        } catch {
            return SandboxResult(
                exitStatus: -1, stdout: "", stderr: "cannot start the sandbox: \(error)", timedOut: false,
                outputTruncated: false, seconds: 0, isolation: isolation.description)
        }
        let pid = process.processIdentifier
        // The parent's copies of the write ends must close, or the readers never see EOF.
        try? stdout.fileHandleForWriting.close()
        try? stderr.fileHandleForWriting.close()
        outReader.start()
        errReader.start()
        let finishedInTime = await exited.wait(seconds: limits.wallSeconds)
        // Kill the whole group either way: children may outlive the main process.
        kill(-pid, SIGKILL)
        if !finishedInTime { _ = await exited.wait(seconds: 5) }
        let out = await offPool { outReader.finish(within: 1) }
        let err = await offPool { errReader.finish(within: 1) }
        return SandboxResult(
            exitStatus: finishedInTime ? process.terminationStatus : -9,
            stdout: String(decoding: out.data, as: UTF8.self), stderr: String(decoding: err.data, as: UTF8.self),
            timedOut: !finishedInTime, outputTruncated: out.truncated || err.truncated,
            seconds: Date().timeIntervalSince(start), isolation: isolation.description)
    }
}

/// Runs blocking work on a Dispatch worker, never on Swift's cooperative pool
/// (two threads on a two-core machine: one blocked wait would stall half of it).
func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}

/// Signals the end of a process to async waiters, with a timeout.
final class ExitSignal: Sendable {
    private struct State {
        var fired = false
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    }
    // Continuations are resumed outside the lock.
    private let state = Mutex(State())

    func fire() {
        let waiting = state.withLock { state in
            state.fired = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiting { waiter.resume(returning: true) }
    }

    /// True when fired within `seconds`. Each waiter times out on its own:
    /// exactly one of `fire` and its timer resumes it.
    func wait(seconds: Double) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let id: Int? = state.withLock {
                if $0.fired { return nil }
                $0.nextWaiter += 1
                $0.waiters[$0.nextWaiter] = continuation
                return $0.nextWaiter
            }
            guard let id else {
                continuation.resume(returning: true)
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
                let timedOut = state.withLock { $0.waiters.removeValue(forKey: id) }
                timedOut?.resume(returning: false)
            }
        }
    }
}

/// Reads a pipe to its end on its own thread, keeping the first `cap` bytes,
/// so a flood of output can neither fill memory nor block the child.
final class CappedReader: @unchecked Sendable {
    // Sendable by hand: `data` and `truncated` are written by the reading thread with `lock` held and read after `done` is signalled.
    private let handle: FileHandle
    private let cap: Int
    private let lock = NSLock()
    private var data = Data()
    private var truncated = false
    private let done = DispatchSemaphore(value: 0)

    init(handle: FileHandle, cap: Int) {
        self.handle = handle
        self.cap = cap
    }

    func start() {
        Thread.detachNewThread { [self] in
            let fd = handle.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count <= 0 { break }
                lock.withLock {
                    let room = cap - data.count
                    if room > 0 { data.append(contentsOf: buffer[0..<min(room, count)]) }
                    if count > room { truncated = true }
                }
            }
            done.signal()
        }
    }

    func finish(within seconds: Double) -> (data: Data, truncated: Bool) {
        _ = done.wait(timeout: .now() + seconds)
        return lock.withLock { (data, truncated) }
    }
}
