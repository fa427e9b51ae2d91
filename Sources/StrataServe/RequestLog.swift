import Foundation
import StrataDiagnostics
import StrataRuntime
import Synchronization

/// `--request-log`: one JSON line per request, appended as it finishes, with
/// what an operator needs (id, model, status, durations, usage, dollars,
/// user, the client's retry count, whether it disconnected) and no prompt or
/// answer unless the server was started with `--log-content`.
final class RequestLog: Sendable {
    private let file: AppendingFile
    /// Said once on stderr when the log cannot be written (a full disk); the server goes on serving.
    private let warned = Mutex(false)

    init(path: String) throws {
        file = try AppendingFile(path: path)
    }

    struct Entry: Encodable, Sendable {
        var id: String
        /// When the request arrived, ISO 8601 (written with the line).
        var time: String?
        var method: String
        var path: String
        var model: String?
        var status: Int
        var stream: Bool?
        var seconds: Double
        var firstTokenSeconds: Double?
        var queueSeconds: Double?
        var disconnected: Bool?
        var calls: Int?
        var cacheHits: Int?
        var promptTokens: Int?
        var completionTokens: Int?
        var usd: Double?
        var error: String?
        var user: String?
        var metadata: String?
        var clientRetry: Int?
        var ignoredParams: [String]?
        var messages: [[String: String]]?
        var answer: String?
        /// When the request arrived (the line has `time` and `seconds`).
        var startedAt = Date()

        /// What the request asked for: its model and options, and its messages when the log keeps content.
        mutating func describe(_ request: ChatCompletionRequest, withContent: Bool) {
            model = request.model
            stream = request.stream
            user = request.user
            metadata = request.metadata
            ignoredParams = request.ignored.isEmpty ? nil : request.ignored
            if withContent { messages = request.messages.map { ["role": $0.role.rawValue, "content": $0.content] } }
        }

        mutating func record(_ usage: RunUsage) {
            calls = usage.calls
            cacheHits = usage.cacheHits
            promptTokens = usage.inputTokens + usage.cachedInputTokens
            completionTokens = usage.outputTokens + usage.cachedOutputTokens
            self.usd = usage.usd
        }

        enum CodingKeys: String, CodingKey {
            case id, time, method, path, model, status, stream, seconds, disconnected, calls, usd, error, user, metadata, messages, answer
            case firstTokenSeconds = "first_token_seconds", queueSeconds = "queue_seconds", cacheHits = "cache_hits"
            case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", clientRetry = "client_retry"
            case ignoredParams = "ignored_params"
        }
    }

    func write(_ entry: Entry) {
        guard let line = Self.line(entry) else { return }
        file.append(line)
        if let error = file.error,
            !warned.withLock({ (said: inout Bool) -> Bool in
                defer { said = true }
                return said
            })
        {
            FileHandle.standardError.write(Data("strata serve: the request log stopped: \(error)\n".utf8))
        }
    }

    /// The entry's JSON line, newline included.
    static func line(_ entry: Entry) -> Data? {
        var entry = entry
        entry.time = entry.startedAt.formatted(.iso8601)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(entry) else { return nil }
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// Syncs the log; the first write failure, if any, is thrown.
    func close() throws { try file.sync() }
}
