import Foundation

/// Writes one JSON line per trace event, from any thread, in arrival order.
public final class TraceWriter: @unchecked Sendable {
    // Sendable by hand: the file is written only on the serial `queue`.
    private let queue = DispatchQueue(label: "strata.trace")
    private let handle: FileHandle
    private let encoder: JSONEncoder

    /// Appends to the file at `path`, creating it.
    public init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        handle.seekToEndOfFile()
        self.handle = handle
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    func write(_ event: TraceEvent) {
        queue.async { [self] in
            guard var data = try? encoder.encode(event) else { return }
            data.append(0x0A)
            handle.write(data)
        }
    }

    /// Waits for every line to reach the file.
    public func flush() {
        queue.sync { try? handle.synchronize() }
    }

    deinit {
        queue.sync { try? handle.close() }
    }
}
