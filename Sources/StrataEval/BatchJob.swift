import Foundation
import StrataDiagnostics
import StrataProviders
import StrataRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `strata run --input Q.jsonl --output A.jsonl`: every query of a JSONL file
/// through a pipeline, on the evaluations' concurrent loop, each answer
/// appended to the output as it finishes. Resumable: a rerun skips the items
/// answered already (and, unless `retryFailed`, those that failed).
package struct BatchJob: Sendable {
    package var runtime: PipelineRuntime
    package var input: String
    package var output: String
    package var concurrency: Int
    package var retryFailed: Bool
    /// Whether each item's calls are kept (`BatchOutcome.timelines`).
    package var keepsTimelines: Bool

    package init(runtime: PipelineRuntime, input: String, output: String, concurrency: Int = 8, retryFailed: Bool = false, keepsTimelines: Bool = false) {
        self.runtime = runtime
        self.input = input
        self.output = output
        self.concurrency = max(1, concurrency)
        self.retryFailed = retryFailed
        self.keepsTimelines = keepsTimelines
    }

    /// What a batch found before it started: every item, and those it will run.
    package struct Plan: Sendable {
        package var items: [BatchItem]
        package var pending: [BatchItem]
        /// Items with an answer in the output already.
        package var answered: Set<String>
        package var alreadyDone: Int { items.count - pending.count }
    }

    /// How a batch ended.
    package struct Outcome: Sendable {
        package var answered = 0
        package var failed = 0
        /// Items still without an answer (earlier failures included): a rerun carries on with them.
        package var remaining = 0
        /// Why writing the output stopped, if it did (every line before it is kept).
        package var writeError: String?
        package var timelines: [(id: String, spans: [CallSpan])] = []
    }

    /// Reads the input and what the output already holds.
    package func plan() throws -> Plan {
        let items = try BatchItem.read(path: input)
        let done = BatchItem.finishedIDs(path: output, includingFailed: !retryFailed)
        return Plan(
            items: items, pending: items.filter { !done.contains($0.id) }, answered: BatchItem.finishedIDs(path: output, includingFailed: false))
    }

    /// Runs the plan's pending items; `onItem` sees each result as it is written.
    package func run(_ plan: Plan, onItem: @escaping @Sendable (RunResult) -> Void = { _ in }) async throws -> Outcome {
        let file = try AnswerFile(path: output)
        defer { file.close() }
        var outcome = Outcome()
        let runtime = runtime
        try await forEachConcurrently(plan.pending, limit: concurrency) { item in
            await runtime.run(item.query, id: item.id)
        } handle: { item, result in
            if keepsTimelines { outcome.timelines.append((item.id, result.timeline)) }
            // An item cut short by Ctrl-C is not done: it is not recorded, and a rerun runs it.
            if result.failure == "cancelled" || Task.isCancelled && result.answer == nil { return !Task.isCancelled }
            guard file.write(item, result: result) else { return false }
            if result.answer == nil { outcome.failed += 1 } else { outcome.answered += 1 }
            onItem(result)
            return true
        }
        outcome.writeError = file.error
        // Items already failed in the output count too: they have no answer yet.
        outcome.remaining = plan.items.filter { !plan.answered.contains($0.id) }.count - outcome.answered
        return outcome
    }
}

/// One item of a batch input file.
package struct BatchItem: Sendable {
    package var id: String
    /// The id was written as a JSON integer, and is written back as one.
    package var idIsInteger = false
    package var query: Query

    /// Reads a JSONL file with the datasets' rules (`JSONLines`): a bad line is reported as `file:line`.
    package static func read(path: String) throws -> [BatchItem] {
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
            throw BatchError(error.description)
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
            throw BatchError("\(path):\(record.line): needs 'prompt' or 'messages'")
        }
        let parsed = messages.compactMap { message -> ChatMessage? in
            guard let role = (message["role"] as? String).flatMap(ChatMessage.Role.init(rawValue:)),
                let content = message["content"] as? String
            else { return nil }
            return ChatMessage(role, content)
        }
        guard parsed.count == messages.count, parsed.last?.role == .user else {
            throw BatchError("\(path):\(record.line): 'messages' must be role/content pairs ending with the user's")
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

/// A batch's input or output that cannot be used, said as `file:line` where it can.
package struct BatchError: Error, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}

/// Appends one JSON line per finished item. The file is locked for the whole
/// batch (a second writer is refused), each line goes out in one `write` to a
/// file opened for appending, and is synced at once, so a kill loses nothing
/// finished. The first write error stops further writes and is reported.
final class AnswerFile: @unchecked Sendable {
    // Sendable by hand: writes and `failure` happen only on the serial `queue`.
    private let queue = DispatchQueue(label: "strata.answers")
    private let descriptor: Int32
    private let path: String
    /// The first write error; guarded by `queue`.
    private var failure: String?

    init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw BatchError("cannot write \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(descriptor)
            throw BatchError("\(path) is being written by another strata run; wait for it to finish or choose another --output")
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
                if fsync(descriptor) != 0 { throw BatchError(String(cString: strerror(errno))) }
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
                    throw BatchError(String(cString: strerror(errno)))
                }
                offset += written
            }
        }
    }

    func close() { queue.sync { _ = Glibc.close(descriptor) } }
}
