import Foundation
import StrataDiagnostics

/// Writes one JSON line per trace event, from any thread, in arrival order.
public final class TraceWriter: @unchecked Sendable {
    // Sendable by hand: events are encoded and appended only on the serial `queue`.
    private let queue = DispatchQueue(label: "strata.trace")
    private let file: AppendingFile
    private let encoder: JSONEncoder

    /// Appends to the file at `path`, creating it.
    public init(path: String) throws {
        file = try AppendingFile(path: path)
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    func write(_ event: TraceEvent) {
        queue.async { [self] in
            guard var data = try? encoder.encode(event) else { return }
            data.append(0x0A)
            file.append(data)
        }
    }

    /// Waits for every line to reach the file; throws when a write failed (a full disk), so the run can say so.
    public func flush() throws {
        try queue.sync { try file.sync() }
    }

}
