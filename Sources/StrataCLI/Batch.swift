import Foundation
import Strata
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One item of a batch input file.
struct BatchItem: Sendable {
    var id: String
    /// The id was written as a JSON integer, and is written back as one.
    var idIsInteger = false
    var query: Query

    /// Reads a JSONL file with the datasets' rules (`JSONLines`): a bad line is reported as `file:line`.
    static func read(path: String) throws -> [BatchItem] {
        do {
            var items: [BatchItem] = []
            var seen = JSONLines.UniqueIDs()
            for record in try JSONLines.read(try Data(contentsOf: URL(fileURLWithPath: path)), path: path) {
                var item = BatchItem(id: "line-\(record.line)", query: try query(record, path: path))
                if let id = try JSONLines.id(of: record, key: "id", path: path, what: "answers") {
                    item.id = id.text
                    if case .integer = id { item.idIsInteger = true }
                }
                try seen.insert(item.id, line: record.line, path: path)
                items.append(item)
            }
            return items
        } catch let error as DatasetError {
            throw ValidationFailure(error.description)
        }
    }

    /// The query of one line: `prompt` (or `question`), or `messages` ending with the user's.
    static func query(_ record: JSONLRecord, path: String) throws -> Query {
        let object = record.object
        let tests = object["tests"] as? String
        if let prompt = (object["prompt"] as? String) ?? (object["question"] as? String) {
            return Query(prompt: prompt, tests: tests)
        }
        guard let messages = object["messages"] as? [[String: Any]] else {
            throw ValidationFailure("\(path):\(record.line): needs 'prompt' or 'messages'")
        }
        let parsed = messages.compactMap { message -> ChatMessage? in
            guard let role = (message["role"] as? String).flatMap(ChatMessage.Role.init(rawValue:)),
                let content = message["content"] as? String
            else { return nil }
            return ChatMessage(role, content)
        }
        guard parsed.count == messages.count, parsed.last?.role == .user else {
            throw ValidationFailure("\(path):\(record.line): 'messages' must be role/content pairs ending with the user's")
        }
        return Query(messages: parsed, tests: tests)
    }

    /// Ids already in the output file: answered ones, and (unless they are to be
    /// retried) failed ones. A last line cut short by a kill is ignored (and rewritten).
    static func finishedIDs(path: String, includingFailed: Bool) -> Set<String> {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else { return [] }
        var ids = Set<String>()
        for line in SourceFile.lines(of: String(decoding: data, as: UTF8.self)) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            let id = (object["id"] as? String) ?? (object["id"] as? NSNumber).map { String($0.int64Value) }
            guard let id else { continue }
            if object["answer"] != nil || includingFailed { ids.insert(id) }
        }
        return ids
    }
}

struct ValidationFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Appends one JSON line per finished item. The file is locked for the whole
/// batch (a second writer is refused), each line goes out in one `write` to a
/// file opened for appending, and is synced at once, so a kill loses nothing
/// finished. The first write error stops further writes and is reported.
final class AnswerWriter: @unchecked Sendable {
    // Sendable by hand: writes and `failure` happen only on the serial `queue`.
    private let queue = DispatchQueue(label: "strata.answers")
    private let descriptor: Int32
    private let path: String
    /// The first write error; guarded by `queue`.
    private var failure: String?

    init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ValidationFailure("cannot write \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(descriptor)
            throw ValidationFailure("\(path) is being written by another strata run; wait for it to finish or choose another --output")
        }
        self.descriptor = descriptor
        // A line cut short by a kill would corrupt the next one: end the file with a newline.
        if let handle = FileHandle(forReadingAtPath: path) {
            let end = handle.seekToEndOfFile()
            if end > 0 {
                handle.seek(toFileOffset: end - 1)
                if handle.readData(ofLength: 1) != Data([0x0A]) { try writeAll(Data([0x0A])) }
            }
            try? handle.close()
        }
    }

    /// Why writing stopped, if it did.
    var error: String? { queue.sync { failure } }

    /// Returns false when the line could not be written (the batch should stop).
    @discardableResult
    func write(_ item: BatchItem, result: RunResult) -> Bool {
        var object: [String: Any] = [
            "id": item.idIsInteger ? (Int64(item.id).map { NSNumber(value: $0) } ?? item.id as Any) : item.id,
            "usage": [
                "calls": result.usage.calls, "cache_hits": result.usage.cacheHits, "failed_calls": result.usage.failedCalls,
                "input_tokens": result.usage.inputTokens, "output_tokens": result.usage.outputTokens,
                "usd": result.usage.usd.isFinite ? result.usage.usd as Any : NSNull(), "seconds": result.usage.seconds,
            ],
        ]
        if let answer = result.answer { object["answer"] = answer }
        if let failure = result.failure { object["failure"] = failure }
        if !result.notices.isEmpty { object["notices"] = result.notices }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            queue.sync { if failure == nil { failure = "item '\(item.id)' could not be encoded as JSON" } }
            return false
        }
        data.append(0x0A)
        return queue.sync {
            guard failure == nil else { return false }
            do {
                try writeAll(data)
                if fsync(descriptor) != 0 { throw ValidationFailure(String(cString: strerror(errno))) }
                return true
            } catch {
                failure = "cannot write \(path): \(error)"
                return false
            }
        }
    }

    private func writeAll(_ data: Data) throws {
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw ValidationFailure(String(cString: strerror(errno)))
                }
                offset += written
            }
        }
    }

    func close() { queue.sync { _ = Glibc.close(descriptor) } }
}

/// done/total, rate, ETA and cost so far, on standard error.
final class Progress: Sendable {
    private struct Counts {
        var done: Int
        var failed = 0
        var usd = 0.0
    }

    private let counts: Mutex<Counts>
    private let line = ProgressLine()
    private let total: Int
    private let startDone: Int
    private let start = Date()

    init(total: Int, alreadyDone: Int) {
        self.total = total
        self.counts = Mutex(Counts(done: alreadyDone))
        self.startDone = alreadyDone
    }

    func finished(_ result: RunResult) {
        let counts = counts.withLock { counts in
            counts.done += 1
            if result.answer == nil { counts.failed += 1 }
            counts.usd += result.usage.usd
            return counts
        }
        let (total, startDone, start) = (total, startDone, start)
        line.show(final: counts.done == total) {
            let rate = Double(counts.done - startDone) / max(0.001, Date().timeIntervalSince(start))
            let eta = rate > 0 ? Double(total - counts.done) / rate : 0
            let width = 24
            let filled = total > 0 ? width * counts.done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            return String(
                format: "[%@] %d/%d  %.2f items/s  ETA %.0fs  $%.4f  %d failed", bar, counts.done, total, rate, eta, counts.usd, counts.failed)
        }
    }

    func close() { line.close() }
}
