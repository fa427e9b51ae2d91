import Foundation
import Strata

/// One item of a batch input file.
struct BatchItem: Sendable {
    var id: String
    var query: Query

    static func read(path: String) throws -> [BatchItem] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var items: [BatchItem] = []
        var seen = Set<String>()
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
                throw ValidationFailure("\(path):\(number + 1): not a JSON object")
            }
            let id = (object["id"] as? String) ?? (object["id"] as? Int).map(String.init) ?? "line-\(number + 1)"
            guard seen.insert(id).inserted else { throw ValidationFailure("\(path):\(number + 1): id '\(id)' appears twice") }
            let tests = object["tests"] as? String
            if let prompt = (object["prompt"] as? String) ?? (object["question"] as? String) {
                items.append(BatchItem(id: id, query: Query(prompt: prompt, tests: tests)))
            } else if let messages = object["messages"] as? [[String: Any]] {
                let parsed = messages.compactMap { message -> ChatMessage? in
                    guard let role = (message["role"] as? String).flatMap(ChatMessage.Role.init(rawValue:)),
                          let content = message["content"] as? String else { return nil }
                    return ChatMessage(role, content)
                }
                guard parsed.count == messages.count, parsed.last?.role == .user else {
                    throw ValidationFailure("\(path):\(number + 1): 'messages' must be role/content pairs ending with the user's")
                }
                items.append(BatchItem(id: id, query: Query(messages: parsed, tests: tests)))
            } else {
                throw ValidationFailure("\(path):\(number + 1): needs 'prompt' or 'messages'")
            }
        }
        return items
    }

    /// Ids already in the output file. A last line cut short by a kill is ignored (and rewritten).
    static func finishedIDs(path: String) -> Set<String> {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        var ids = Set<String>()
        for line in text.split(separator: "\n") {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let id = object["id"] as? String {
                ids.insert(id)
            }
        }
        return ids
    }
}

struct ValidationFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Appends one JSON line per finished item, flushed at once so a kill loses nothing finished.
final class AnswerWriter: @unchecked Sendable {
    private let queue = DispatchQueue(label: "strata.answers")
    private let handle: FileHandle

    init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forUpdatingAtPath: path) else { throw ValidationFailure("cannot write \(path)") }
        // A line cut short by a kill would corrupt the next one: end the file with a newline.
        let end = handle.seekToEndOfFile()
        if end > 0 {
            handle.seek(toFileOffset: end - 1)
            if handle.readData(ofLength: 1) != Data([0x0A]) { handle.write(Data([0x0A])) }
        }
        self.handle = handle
    }

    func write(id: String, result: RunResult) {
        var object: [String: Any] = [
            "id": id,
            "usage": ["calls": result.usage.calls, "cache_hits": result.usage.cacheHits, "failed_calls": result.usage.failedCalls,
                      "input_tokens": result.usage.inputTokens, "output_tokens": result.usage.outputTokens,
                      "usd": result.usage.usd, "seconds": result.usage.seconds],
        ]
        if let answer = result.answer { object["answer"] = answer }
        if let failure = result.failure { object["failure"] = failure }
        if !result.notices.isEmpty { object["notices"] = result.notices }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        queue.sync {
            handle.write(data)
            try? handle.synchronize()
        }
    }

    func close() { queue.sync { try? handle.close() } }
}

/// done/total, rate, ETA and cost so far, on standard error.
final class Progress: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int
    private var done: Int
    private let startDone: Int
    private var failed = 0
    private var usd = 0.0
    private let start = Date()
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastPrinted = Date.distantPast

    init(total: Int, alreadyDone: Int) {
        self.total = total
        self.done = alreadyDone
        self.startDone = alreadyDone
    }

    func finished(_ result: RunResult) {
        lock.withLock {
            done += 1
            if result.answer == nil { failed += 1 }
            usd += result.usage.usd
            let now = Date()
            if isTerminal || now.timeIntervalSince(lastPrinted) > 5 || done == total {
                lastPrinted = now
                render(now)
            }
        }
    }

    private func render(_ now: Date) {
        let elapsed = max(0.001, now.timeIntervalSince(start))
        let rate = Double(done - startDone) / elapsed
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 24
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = String(format: "[%@] %d/%d  %.2f items/s  ETA %.0fs  $%.4f  %d failed", bar, done, total, rate, eta, usd, failed)
        FileHandle.standardError.write(Data((isTerminal ? "\r" + line : line + "\n").utf8))
    }

    func close() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
