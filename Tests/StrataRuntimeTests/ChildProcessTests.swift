import Foundation
import StrataSandbox
import StrataTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The spawner every subprocess goes through (the sandbox, gzip, the tests' own binaries).
@Suite struct ChildProcessTests {
    static let shell = URL(fileURLWithPath: "/bin/sh")

    static func output(of script: String, environment: [String: String]? = nil, directory: URL? = nil) throws -> (String, ChildProcess) {
        let out = Pipe()
        let child = ChildProcess(shell, arguments: ["-c", script], environment: environment, directory: directory, output: .pipe(out))
        try child.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        return (String(decoding: data, as: UTF8.self), child)
    }

    /// Foundation's `Process.run()` crashed now and then with this many descriptors open
    /// (its scan of /proc/self/fd over-read glibc's buffer); a child here starts, and inherits none of them.
    @Test func withThousandsOfDescriptorsOpenChildrenStartAndInheritNone() async throws {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        let wanted = rlim_t(3000)
        if limit.rlim_cur < wanted, limit.rlim_max >= wanted {
            limit.rlim_cur = wanted
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        try #require(limit.rlim_cur >= wanted, "the descriptor limit is \(limit.rlim_cur)")
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let copies = (0..<2000).map { _ in dup(null) }
        defer { for fd in copies + [null] { close(fd) } }
        #expect(copies.allSatisfy { $0 > 0 })
        let highest = copies.max() ?? 0
        try await offPool {
            for _ in 0..<30 {
                let (said, child) = try Self.output(of: "ls /proc/$$/fd/\(highest) >/dev/null 2>&1 && echo inherited || echo closed")
                #expect(said == "closed\n")
                #expect(child.termination == .exited(0))
            }
        }
    }

    @Test func itsStatusSaysHowItEnded() async throws {
        try await offPool {
            let (_, exited) = try Self.output(of: "exit 3")
            #expect(exited.termination == .exited(3))
            #expect(exited.terminationStatus == 3)
            #expect(!exited.isRunning)
        }
        let sleeper = ChildProcess(URL(fileURLWithPath: "/bin/sleep"), arguments: ["30"], output: .null)
        let reaped = Mutex(false)
        try sleeper.run { _ in reaped.withLock { $0 = true } }
        #expect(sleeper.isRunning)
        #expect(sleeper.termination == nil)
        sleeper.terminate()
        await waitForExit(sleeper)
        #expect(sleeper.termination == .signalled(SIGTERM))
        #expect(await eventually(within: 5) { reaped.withLock { $0 } }, "the exit handler ran")
    }

    @Test func itRunsWhereAndWithWhatItIsTold() async throws {
        let directory = try temporaryDirectory()
        let (said, _) = try await offPool { try Self.output(of: "pwd; echo \"[$ONLY]\" \"[$HOME]\"", environment: ["ONLY": "this"], directory: directory) }
        #expect(said == "\(directory.resolvingSymlinksInPath().path)\n[this] []\n")
    }

    @Test func aMissingProgramIsAnErrorThatNamesIt() throws {
        let child = ChildProcess(URL(fileURLWithPath: "/nonexistent/tool"))
        #expect(throws: ChildProcessError.self) { try child.run() }
        do { try child.run() } catch { #expect("\(error)".contains("could not start /nonexistent/tool")) }
        #expect(!child.isRunning)
    }
}
