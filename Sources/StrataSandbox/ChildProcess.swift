import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, in place of Foundation's `Process`.
///
/// Foundation's `Process.run()` on Linux lists `/proc/self/fd` to close inherited
/// descriptors and copies each entry's whole 256-byte name field, reading past the
/// end of glibc's buffer: with over a thousand descriptors open (a busy server, a
/// test process) it crashed the process now and then (swift-corelibs-foundation
/// pull request 5472, fixed after Swift 6.3.1). Here the child closes them itself,
/// with `posix_spawn_file_actions_addclosefrom_np`, before it runs anything.
package final class ChildProcess: Sendable {
    /// Where one of the child's standard streams goes.
    package enum Stream: @unchecked Sendable {
        // Sendable by hand: a handle or pipe is only read for its descriptor, and closed once, by `run`.
        /// The parent's own stream.
        case inherit
        /// `/dev/null`.
        case null
        /// An open file or socket of the caller's, which stays open.
        case handle(FileHandle)
        /// The child's end of a pipe, which `run` closes in the parent so that the
        /// parent's reads see the end when the child exits.
        case pipe(Pipe)
    }

    /// How a child ended: its exit code, or the signal that ended it.
    package enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    private struct State {
        var processIdentifier: pid_t = 0
        var termination: Termination?
        var onExit: (@Sendable (ChildProcess) -> Void)?
    }

    private let executable: String
    private let arguments: [String]
    private let environment: [String: String]?
    private let directory: String?
    private let streams: [Stream]
    private let state = Mutex(State())
    private let ended = DispatchSemaphore(value: 0)

    /// A child to start with `run`: `environment` nil inherits the parent's, `directory` nil its working directory.
    package init(
        _ executable: URL, arguments: [String] = [], environment: [String: String]? = nil, directory: URL? = nil,
        input: Stream = .inherit, output: Stream = .inherit, error: Stream = .inherit
    ) {
        self.executable = executable.path
        self.arguments = arguments
        self.environment = environment
        self.directory = directory?.path
        self.streams = [input, output, error]
    }

    /// The child's process id, 0 before `run`.
    package var processIdentifier: pid_t { state.withLock { $0.processIdentifier } }

    /// Started and not yet reaped.
    package var isRunning: Bool { state.withLock { $0.processIdentifier > 0 && $0.termination == nil } }

    /// How it ended, nil while it runs.
    package var termination: Termination? { state.withLock { $0.termination } }

    /// The exit code, or the number of the signal that ended it (as Foundation's
    /// `Process` reports it); -1 while it runs.
    package var terminationStatus: Int32 {
        switch termination {
        case .exited(let code), .signalled(let code): code
        case nil: -1
        }
    }

    /// Starts the child. `onExit` runs on the thread that reaps it, once it has ended.
    package func run(onExit: (@Sendable (ChildProcess) -> Void)? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, stream) in streams.enumerated() {
            let target = Int32(target)
            switch stream {
            case .inherit: break
            case .null, .handle(FileHandle.nullDevice):
                // Foundation's null device is a handle without a descriptor.
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .handle(let handle):
                if handle.fileDescriptor != target { posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target) }
            case .pipe(let pipe):
                let end = target == 0 ? pipe.fileHandleForReading : pipe.fileHandleForWriting
                posix_spawn_file_actions_adddup2(&actions, end.fileDescriptor, target)
            }
        }
        guard let closeFrom = SpawnExtensions.addCloseFrom else {
            throw ChildProcessError(executable: executable, reason: "this C library cannot close a child's descriptors (glibc 2.34 or later can)")
        }
        _ = closeFrom(&actions, 3)
        if let directory {
            guard let addChdir = SpawnExtensions.addChdir else {
                throw ChildProcessError(executable: executable, reason: "this C library cannot set a child's directory (glibc 2.29 or later can)")
            }
            _ = directory.withCString { addChdir(&actions, $0) }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so a terminal's ^C reaches the parent, which decides; SIGPIPE back to its default,
        // since a Swift parent ignores it and an ignored signal stays ignored across exec.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let environmentStrings = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for pointer in environmentStrings ?? [] { free(pointer) } }

        var pid = pid_t()
        let status: Int32 =
            if let environmentStrings {
                environmentStrings.withUnsafeBufferPointer { posix_spawn(&pid, executable, &actions, &attributes, argv, $0.baseAddress) }
            } else {
                posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
            }
        guard status == 0 else { throw ChildProcessError(executable: executable, reason: String(cString: strerror(status))) }

        for (target, stream) in streams.enumerated() {
            guard case .pipe(let pipe) = stream else { continue }
            try? (target == 0 ? pipe.fileHandleForReading : pipe.fileHandleForWriting).close()
        }
        state.withLock {
            $0.processIdentifier = pid
            $0.onExit = onExit
        }
        // One thread per child blocks in waitpid: no polling, and none of Dispatch's or Swift's shared threads held.
        let child = pid
        let reaper = Thread { [self] in reap(child) }
        reaper.name = "strata-reap-\(child)"
        reaper.start()
    }

    private func reap(_ pid: pid_t) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
        let signal = status & 0x7f
        let termination: Termination = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
        let onExit = state.withLock { state in
            state.termination = termination
            defer { state.onExit = nil }
            return state.onExit
        }
        ended.signal()
        onExit?(self)
    }

    /// Blocks until the child has ended; call it off Swift's cooperative pool.
    package func waitUntilExit() {
        guard processIdentifier > 0 else { return }
        ended.wait()
        ended.signal()
    }

    /// Sends `signal` to the child while it runs.
    package func send(_ signal: Int32) {
        let pid = state.withLock { $0.termination == nil ? $0.processIdentifier : 0 }
        if pid > 0 { kill(pid, signal) }
    }

    /// SIGTERM.
    package func terminate() { send(SIGTERM) }

    /// SIGINT.
    package func interrupt() { send(SIGINT) }
}

/// A child that could not be started.
package struct ChildProcessError: Error, CustomStringConvertible {
    package let executable: String
    package let reason: String
    package var description: String { "could not start \(executable): \(reason)" }
}

/// glibc's spawn extensions, which its Swift module does not declare: looked up by name once.
private enum SpawnExtensions {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    static let addCloseFrom: AddCloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: AddCloseFrom.self)
    }
    static let addChdir: AddChdir? = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map {
        unsafeBitCast($0, to: AddChdir.self)
    }
}
