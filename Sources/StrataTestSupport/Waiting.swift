import Foundation
import StrataSandbox
import Synchronization

/// Waits until `condition` holds, checking every 10 ms, for at most `seconds`;
/// returns whether it held. For what a test can only observe from outside
/// (a server's counters, a process's output).
package func eventually(within seconds: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    return await condition()
}

/// Waits for a started process to end, off Swift's cooperative pool.
package func waitForExit(_ process: ChildProcess) async {
    await offPool { process.waitUntilExit() }
}

/// A flag a test server's responder reads while the test flips it.
package final class LockedFlag: Sendable {
    private let stored: Mutex<Bool>
    package init(_ value: Bool) { stored = Mutex(value) }
    package var value: Bool {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }
}
