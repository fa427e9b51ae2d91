import Foundation
import Synchronization

/// The API keys of one model, read from the environment variables its
/// declaration names, rotated on quota and rate-limit errors. Keys are never
/// printed: `redact` removes them from any text that might be.
package final class KeyRing: Sendable {
    private let keys: [String]
    /// The index of the key in use (modulo the count).
    private let current = Mutex(0)
    package let variables: [String]

    package init(variables: [String], environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.variables = variables
        self.keys = variables.compactMap { environment[$0] }.filter { !$0.isEmpty }
    }

    package var isEmpty: Bool { keys.isEmpty }
    package var count: Int { keys.count }

    /// The key to use now, or nil when none is set.
    package func currentKey() -> String? {
        current.withLock { keys.isEmpty ? nil : keys[$0 % keys.count] }
    }

    /// Moves to the next key if `failed` is still the current one (so concurrent
    /// callers failing with the same key rotate once). Returns whether another key exists.
    @discardableResult
    package func rotate(after failed: String) -> Bool {
        guard keys.count > 1 else { return false }
        current.withLock { if keys[$0 % keys.count] == failed { $0 += 1 } }
        return true
    }

    /// `text` with every key of this ring replaced by `[redacted]`.
    package func redact(_ text: String) -> String {
        var text = text
        for key in keys where key.count >= 4 { text = text.replacingOccurrences(of: key, with: "[redacted]") }
        return Self.redactBearer(text)
    }

    /// Removes anything that looks like a bearer token or key header value.
    static func redactBearer(_ text: String) -> String {
        var result = text
        for marker in ["Bearer ", "x-api-key: ", "sk-"] {
            var searchFrom = result.startIndex
            while let range = result.range(of: marker, range: searchFrom..<result.endIndex) {
                let valueStart = marker == "sk-" ? range.lowerBound : range.upperBound
                var end = valueStart
                while end < result.endIndex, !result[end].isWhitespace, result[end] != "\"", result[end] != "," { end = result.index(after: end) }
                if result.distance(from: valueStart, to: end) >= 8 {
                    result.replaceSubrange(valueStart..<end, with: "[redacted]")
                    searchFrom = result.index(valueStart, offsetBy: "[redacted]".count, limitedBy: result.endIndex) ?? result.endIndex
                } else {
                    searchFrom = end
                }
            }
        }
        return result
    }
}
