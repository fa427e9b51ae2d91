import Foundation
import Synchronization

/// Ctrl-C cancels the running work (in-flight HTTP requests included); what
/// was written stays written. A second Ctrl-C exits at once.
///
/// The handler is a plain signal handler installed synchronously before the
/// work starts, writing a byte to a pipe that a thread of its own reads: a
/// Dispatch signal source is registered asynchronously on Linux, and a Ctrl-C
/// in that window was lost (the batch then ran to its end).
final class InterruptHandler: Sendable {
    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        // The task, once started, and whether Ctrl-C came before it was.
        let work = Mutex<(task: Task<T, Error>?, cancelled: Bool)>((nil, false))
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return try await body() }
        interruptPipeWriter = fds[1]
        signal(SIGINT) { _ in
            var byte: UInt8 = 1
            _ = write(interruptPipeWriter, &byte, 1)
        }
        let reader = fds[0]
        Thread {
            var byte: UInt8 = 0
            var interrupts = 0
            while read(reader, &byte, 1) == 1 {
                interrupts += 1
                if interrupts > 1 { Foundation.exit(130) }
                writeError("\ninterrupted: cancelling in-flight calls (Ctrl-C again to quit at once)")
                work.withLock {
                    $0.cancelled = true
                    $0.task?.cancel()
                }
            }
        }.start()
        let task = Task { try await body() }
        work.withLock {
            $0.task = task
            if $0.cancelled { task.cancel() }
        }
        return try await task.value
    }
}

/// The write end of the interrupt pipe, for the C signal handler (which cannot capture).
nonisolated(unsafe) private var interruptPipeWriter: Int32 = -1
