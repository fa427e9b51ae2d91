import Foundation

/// How one HTTP API spells chat requests and replies.
protocol WireFormat: Sendable {
    /// Path under the base URL, e.g. `/chat/completions`.
    var path: String { get }
    func headers(key: String?) -> [(String, String)]
    func body(_ request: ChatRequest, stream: Bool) throws -> Data
    func decode(_ data: Data) throws -> ChatResponse
    /// Folds one SSE event into the reply being streamed; returns the text delta, if any.
    func apply(_ event: SSEParser.Event, to reply: inout StreamedReply) throws -> String?
}

/// A reply assembled from stream events.
struct StreamedReply {
    var text = ""
    var usage = Usage()
    var finishReason: String?
    /// The tokens' log-probabilities, when the request asked for them.
    var logprobs: [TokenLogprob] = []
    var done = false

    /// The reply as a whole.
    var response: ChatResponse {
        ChatResponse(
            texts: [text], usage: usage, finishReason: finishReason,
            confidences: logprobs.isEmpty ? nil : [Confidence(tokens: logprobs)])
    }
}

extension ResponseSchema {
    /// The schema's text, checked to be JSON, for a request body.
    var body: JSONBody {
        get throws {
            _ = try JSONSerialization.jsonObject(with: Data(json.utf8))
            return .raw(json)
        }
    }
}

func jsonObject(_ data: Data) throws -> [String: Any] {
    guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any] else {
        let preview = String(decoding: data.prefix(120), as: UTF8.self)
        throw ProviderError.malformedResponse("not a JSON object: \(preview)")
    }
    return dictionary
}

/// OpenAI Chat Completions, and every server that speaks it.
struct OpenAIWire: WireFormat {
    var path: String { "/chat/completions" }

    func headers(key: String?) -> [(String, String)] {
        var headers = [("Content-Type", "application/json")]
        if let key { headers.append(("Authorization", "Bearer \(key)")) }
        return headers
    }

    func body(_ request: ChatRequest, stream: Bool) throws -> Data {
        var body: [String: JSONBody] = [
            "model": .string(request.model),
            "messages": .array(request.messages.map { ["role": .string($0.role.rawValue), "content": .string($0.content)] }),
            "temperature": .double(request.temperature),
            "top_p": .double(request.topP),
            "max_tokens": .int(request.maxTokens),
        ]
        if let seed = request.seed { body["seed"] = .int(seed) }
        if request.n > 1 { body["n"] = .int(request.n) }
        if !request.stop.isEmpty { body["stop"] = .array(request.stop.map(JSONBody.string)) }
        if let alternatives = request.logprobs {
            body["logprobs"] = true
            if alternatives > 0 { body["top_logprobs"] = .int(alternatives) }
        }
        if let schema = request.schema {
            body["response_format"] = ["type": "json_schema", "json_schema": ["name": .string(schema.name), "schema": try schema.body, "strict": true]]
        }
        switch request.promptCache?.style {
        case .cacheKey?: body["prompt_cache_key"] = request.promptCache.map { .string($0.key) }
        case .cachePrompt?: body["cache_prompt"] = true
        case .breakpoint?, nil: break
        }
        if stream {
            body["stream"] = true
            body["stream_options"] = ["include_usage": true]
        }
        return JSONBody.object(body).data
    }

    func decode(_ data: Data) throws -> ChatResponse {
        let object = try jsonObject(data)
        guard let choices = object["choices"] as? [[String: Any]], !choices.isEmpty else {
            throw ProviderError.malformedResponse("no choices in the reply")
        }
        // Choices may arrive in any order; `index` says which completion each is.
        let ordered = choices.enumerated().sorted { ($0.element["index"] as? Int ?? $0.offset) < ($1.element["index"] as? Int ?? $1.offset) }.map(\.element)
        var texts: [String] = []
        for choice in ordered {
            guard let message = choice["message"] as? [String: Any], let content = message["content"] as? String else {
                throw ProviderError.malformedResponse("a choice has no message content")
            }
            texts.append(content)
        }
        if texts.allSatisfy({ $0.allSatisfy(\.isWhitespace) }) {
            throw ProviderError.emptyContent
        }
        let confidences = ordered.map { TokenLogprob.parse($0["logprobs"]).flatMap(Confidence.init(tokens:)) }
        return ChatResponse(
            texts: texts,
            usage: .openAI(object["usage"] as? [String: Any], timings: object["timings"] as? [String: Any]),
            finishReason: ordered.first?["finish_reason"] as? String,
            finishReasons: ordered.count > 1 ? ordered.map { $0["finish_reason"] as? String } : nil,
            confidences: confidences.contains { $0 != nil } ? confidences : nil)
    }

    func apply(_ event: SSEParser.Event, to reply: inout StreamedReply) throws -> String? {
        if event.data == "[DONE]" {
            reply.done = true
            return nil
        }
        let object = try jsonObject(Data(event.data.utf8))
        if let usage = object["usage"] as? [String: Any] {
            reply.usage = .openAI(usage, timings: object["timings"] as? [String: Any])
        }
        guard let choice = (object["choices"] as? [[String: Any]])?.first else { return nil }
        if let reason = choice["finish_reason"] as? String { reply.finishReason = reason }
        reply.logprobs += TokenLogprob.parse(choice["logprobs"]) ?? []
        guard let delta = (choice["delta"] as? [String: Any])?["content"] as? String, !delta.isEmpty else { return nil }
        reply.text += delta
        return delta
    }
}

/// Anthropic Messages: the system prompt is a separate field, `x-api-key`
/// authenticates, and usage has its own names.
struct AnthropicWire: WireFormat {
    static let version = "2023-06-01"
    var path: String { "/messages" }

    func headers(key: String?) -> [(String, String)] {
        var headers = [("Content-Type", "application/json"), ("anthropic-version", Self.version)]
        if let key { headers.append(("x-api-key", key)) }
        return headers
    }

    func body(_ request: ChatRequest, stream: Bool) throws -> Data {
        var body: [String: JSONBody] = [
            "model": .string(request.model),
            "max_tokens": .int(request.maxTokens),
            "temperature": .double(min(request.temperature, 1)),
        ]
        // A breakpoint marks the last shared message's text block: what comes before it is cached (at most four
        // breakpoints a request; this sends one).
        let breakpoint = request.promptCache?.style == .breakpoint ? (request.promptCache?.sharedMessages ?? 0) - 1 : -1
        var system: [JSONBody] = []
        var systemTexts: [String] = []
        var messages: [JSONBody] = []
        for (index, message) in request.messages.enumerated() {
            if message.role == .system {
                var block: [String: JSONBody] = ["type": "text", "text": .string(message.content)]
                if index == breakpoint { block["cache_control"] = ["type": "ephemeral"] }
                system.append(.object(block))
                systemTexts.append(message.content)
            } else if index == breakpoint {
                let block: JSONBody = ["type": "text", "text": .string(message.content), "cache_control": ["type": "ephemeral"]]
                messages.append(["role": .string(message.role.rawValue), "content": [block]])
            } else {
                messages.append(["role": .string(message.role.rawValue), "content": .string(message.content)])
            }
        }
        body["messages"] = .array(messages)
        if breakpoint >= 0 {
            if !system.isEmpty { body["system"] = .array(system) }
        } else if !system.isEmpty {
            body["system"] = .string(systemTexts.joined(separator: "\n\n"))
        }
        // Recent models refuse temperature and top_p together; send top_p only when it cuts.
        if request.topP < 1 {
            body["top_p"] = .double(request.topP)
            body.removeValue(forKey: "temperature")
        }
        if !request.stop.isEmpty { body["stop_sequences"] = .array(request.stop.map(JSONBody.string)) }
        if stream { body["stream"] = true }
        return JSONBody.object(body).data
    }

    func decode(_ data: Data) throws -> ChatResponse {
        let object = try jsonObject(data)
        guard let content = object["content"] as? [[String: Any]] else {
            throw ProviderError.malformedResponse("no content in the reply")
        }
        let text = content.filter { $0["type"] as? String == "text" }.compactMap { $0["text"] as? String }.joined()
        if text.allSatisfy(\.isWhitespace) { throw ProviderError.emptyContent }
        return ChatResponse(
            texts: [text],
            usage: .anthropic(object["usage"] as? [String: Any]),
            finishReason: object["stop_reason"] as? String)
    }

    func apply(_ event: SSEParser.Event, to reply: inout StreamedReply) throws -> String? {
        let object = try jsonObject(Data(event.data.utf8))
        switch object["type"] as? String ?? event.event {
        case "message_start":
            let usage = Usage.anthropic((object["message"] as? [String: Any])?["usage"] as? [String: Any])
            reply.usage.inputTokens = usage.inputTokens
            reply.usage.cachedInputTokens = usage.cachedInputTokens
        case "content_block_delta":
            guard let delta = object["delta"] as? [String: Any], let text = delta["text"] as? String else { return nil }
            reply.text += text
            return text
        case "message_delta":
            if let usage = object["usage"] as? [String: Any], let output = usage["output_tokens"] as? Int { reply.usage.outputTokens = output }
            if let reason = (object["delta"] as? [String: Any])?["stop_reason"] as? String { reply.finishReason = reason }
        case "message_stop":
            reply.done = true
        case "error":
            let message = (object["error"] as? [String: Any])?["message"] as? String ?? "stream error"
            throw ProviderError.http(status: 500, message: message)
        default:
            break
        }
        return nil
    }
}
