import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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

    /// True when fired within `seconds` on `clock`. Each waiter times out on its own:
    /// exactly one of `fire` and its timer resumes it.
    func wait(seconds: Double, clock: any Clock<Duration> = ContinuousClock()) async -> Bool {
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
            // A task's sleep, not a Dispatch timer: Dispatch's global threads are where blocking waits go
            // (`offPool`), and with many at once on a loaded machine a timer there fired a minute late.
            Task { [self] in
                try? await clock.sleep(for: .seconds(max(0, seconds)))
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
    private var ended = false
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
            lock.withLock { ended = true }
            done.signal()
        }
    }

    /// True once the pipe has reached its end: every process holding its write end has closed it or exited.
    var isClosed: Bool { lock.withLock { ended } }

    func finish(within seconds: Double) -> (data: Data, truncated: Bool) {
        _ = done.wait(timeout: .now() + seconds)
        return lock.withLock { (data, truncated) }
    }
}

/// One sandboxed process: its stderr (and its stdout, unless it writes into a
/// pipe of the caller's) read on threads of their own and capped, its end
/// signalled, killed as a whole (bwrap's namespace dies with it).
final class SandboxedProcess: Sendable {
    private let command: [String]
    /// The captured stdout, unless the process writes into the caller's pipe.
    let stdout: CappedReader?
    let stderr: CappedReader
    let exit = ExitSignal()
    private let output: Pipe
    private let capturedOut: Bool
    private let errorPipe = Pipe()
    private let started = Mutex<ChildProcess?>(nil)

    init(command: [String], outputBytes: Int, output: Pipe? = nil) {
        self.command = command
        capturedOut = output == nil
        self.output = output ?? Pipe()
        stdout = capturedOut ? CappedReader(handle: self.output.fileHandleForReading, cap: outputBytes) : nil
        stderr = CappedReader(handle: errorPipe.fileHandleForReading, cap: outputBytes)
    }

    func start(input: FileHandle) throws {
        let process = ChildProcess(
            URL(fileURLWithPath: command[0]), arguments: Array(command.dropFirst()), environment: Bubblewrap.environment,
            input: .handle(input), output: capturedOut ? .pipe(output) : .handle(output.fileHandleForWriting),
            error: .pipe(errorPipe))
        // The parent's copies of the write ends close as it starts: the readers then see EOF when the process ends.
        try process.run { [exit] _ in exit.fire() }
        started.withLock { $0 = process }
        stdout?.start()
        stderr.start()
    }

    /// The exit code, or the signal that ended it; -1 before its end.
    var terminationStatus: Int32 { started.withLock { $0?.terminationStatus ?? -1 } }

    /// Whether the process's output pipes have closed: the sandbox has ended, even when the news of its exit is late.
    var outputClosed: Bool { stderr.isClosed && (stdout?.isClosed ?? true) }

    /// Waits for the process's end for `seconds`; when its output has closed by then, up to `grace` more for the news
    /// of its exit, which a loaded machine delivers late (a program that had printed its answer once timed out so).
    func waitForExit(seconds: Double, grace: Double = 5) async -> Bool {
        if await exit.wait(seconds: seconds) { return true }
        return outputClosed ? await exit.wait(seconds: grace) : false
    }

    func kill() {
        started.withLock { $0 }?.send(SIGKILL)
    }
}
