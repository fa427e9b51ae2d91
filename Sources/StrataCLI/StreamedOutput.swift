import Foundation
import Synchronization

/// Collects streamed text to standard output.
final class StreamedOutput: Sendable {
    private let wrote = Mutex(false)
    var wroteAnything: Bool { wrote.withLock { $0 } }

    func write(_ text: String) {
        wrote.withLock {
            $0 = true
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
