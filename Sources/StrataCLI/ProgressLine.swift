import Foundation
import Synchronization

/// One progress line on standard error, as every long command shows it: on a
/// terminal rewritten in place as often as it changes; in a log, a line at
/// most every five seconds (and the last one always).
final class ProgressLine: Sendable {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let lastPrinted = Mutex(Date.distantPast)

    /// Shows `line` (made only when it will be shown); `final` forces it out.
    func show(final: Bool = false, _ line: () -> String) {
        lastPrinted.withLock { lastPrinted in
            let now = Date()
            guard isTerminal || final || now.timeIntervalSince(lastPrinted) > 5 else { return }
            lastPrinted = now
            let text = line()
            FileHandle.standardError.write(Data((isTerminal ? "\r" + text : text + "\n").utf8))
        }
    }

    /// Starts over (a new pipeline's items).
    func reset() { lastPrinted.withLock { $0 = .distantPast } }

    /// Ends the line on a terminal.
    func close() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
