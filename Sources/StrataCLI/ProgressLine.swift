import Foundation

/// One progress line on standard error, as every long command shows it: on a
/// terminal rewritten in place as often as it changes; in a log, a line at
/// most every five seconds (and the last one always).
final class ProgressLine: @unchecked Sendable {
    // Sendable by hand: `lastPrinted` is read and written with `lock` held.
    private let lock = NSLock()
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastPrinted = Date.distantPast

    /// Shows `line` (made only when it will be shown); `final` forces it out.
    func show(final: Bool = false, _ line: () -> String) {
        lock.withLock {
            let now = Date()
            guard isTerminal || final || now.timeIntervalSince(lastPrinted) > 5 else { return }
            lastPrinted = now
            let text = line()
            FileHandle.standardError.write(Data((isTerminal ? "\r" + text : text + "\n").utf8))
        }
    }

    /// Starts over (a new pipeline's items).
    func reset() { lock.withLock { lastPrinted = .distantPast } }

    /// Ends the line on a terminal.
    func close() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
