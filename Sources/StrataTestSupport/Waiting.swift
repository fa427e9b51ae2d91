import Foundation

/// Waits until `condition` holds, checking every 10 ms, for at most `seconds`;
/// returns whether it held. For what a test can only observe from outside
/// (a server's counters, a process's output).
public func eventually(within seconds: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    return await condition()
}
