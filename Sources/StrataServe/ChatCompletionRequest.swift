import Foundation
import StrataProviders
import StrataRuntime

/// The part of OpenAI's chat-completions request a pipeline can honour, read
/// leniently like vLLM: unknown fields are accepted and named back to the
/// client (`x-strata-ignored-params`), fields that would change the answer in
/// ways a pipeline cannot (tools, logprobs, audio) are refused before any call.
struct ChatCompletionRequest: Sendable {
    var model: String
    var messages: [ChatMessage]
    var stream = false
    var includeUsage = false
    var seed: Int?
    var n = 1
    /// `user` and `metadata`, for the request log; never sent upstream.
    var user: String?
    var metadata: String?
    /// Fields accepted and ignored, sorted.
    var ignored: [String] = []

    /// Sampling fields a pipeline's own settings override: accepted, ignored, said.
    static let ignoredSampling: Set<String> = [
        "temperature", "top_p", "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty", "stop",
        "logit_bias", "parallel_tool_calls", "service_tier", "store", "reasoning_effort", "prediction", "verbosity",
        "prompt_cache_key", "safety_identifier",
    ]
    /// Fields whose meaning a pipeline cannot give: refused.
    static let refused: [String: String] = [
        "tools": "a pipeline answers in text and calls no tools",
        "tool_choice": "a pipeline answers in text and calls no tools",
        "functions": "a pipeline answers in text and calls no functions",
        "function_call": "a pipeline answers in text and calls no functions",
        "audio": "a pipeline answers in text",
        "top_logprobs": "a pipeline's answer may be chosen among several calls, so it has no log probabilities",
        "web_search_options": "a pipeline has no web search",
    ]

    /// Choice `i`'s query: the request's seed plus `i`, or the pipeline's own seeds for choice 0 of a request without one.
    func query(choice index: Int) -> Query {
        let seed = self.seed.map { $0 + index } ?? (index == 0 ? nil : index)
        return Query(messages: messages, seed: seed)
    }

    /// `x-strata-ignored-params`: the fields accepted and ignored, nil when none was. At most
    /// about a kilobyte, ending in `...` when cut (header values are ASCII to a client): a body of thousands of unknown fields must not
    /// make a header the client's HTTP library refuses.
    var ignoredHeader: String? {
        guard !ignored.isEmpty else { return nil }
        var header = ""
        for name in ignored {
            let field = name.count > 64 ? String(name.prefix(64)) + "..." : name
            guard header.utf8.count + field.utf8.count < Self.ignoredHeaderLimit else { return header + ",..." }
            header += header.isEmpty ? field : "," + field
        }
        return header
    }
    static let ignoredHeaderLimit = 1024

    /// Reads and checks a request body; every problem is an `APIError` (400) found before any call is made.
    static func parse(_ data: Data, maxN: Int) throws(APIError) -> ChatCompletionRequest {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: data), let body = value.object else {
            throw .invalid("The request body is not a JSON object.", param: nil, code: "invalid_json")
        }
        guard let model = body["model"]?.string, !model.isEmpty else {
            throw .invalid("'model' is required: the name of a served pipeline.", param: "model", code: "missing_required_parameter")
        }
        var request = ChatCompletionRequest(model: model, messages: try messages(body["messages"]))
        try request.readOptions(body, maxN: maxN)
        return request
    }

    private mutating func readOptions(_ body: [String: JSONValue], maxN: Int) throws(APIError) {
        for (key, value) in body.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "model", "messages": continue
            case "stream": stream = try Self.bool(value, key)
            case "stream_options":
                if value.isNull { continue }
                guard let options = value.object else { throw .invalid("'stream_options' must be an object.", param: key) }
                if let include = options["include_usage"] { includeUsage = try Self.bool(include, "stream_options.include_usage") }
            case "seed": seed = try Self.integer(value, key)
            case "n":
                n = try Self.integer(value, key) ?? 1
                guard n >= 1 else { throw .invalid("'n' must be at least 1.", param: "n") }
                guard n <= maxN else {
                    throw .invalid(
                        "'n' is \(n), more than this server allows (\(maxN); start it with --max-n to raise it): each choice is a run of the pipeline.",
                        param: "n")
                }
            case "user": user = value.string
            case "metadata": metadata = value.isNull ? nil : value.text
            case "logprobs":
                if value == .bool(true) { throw .unsupported(key, Self.refused["top_logprobs"]!) }
            case "tools", "functions":
                if value.isNull || value.array?.isEmpty == true { continue }
                throw .unsupported(key, Self.refused[key]!)
            case "tool_choice":
                if value.isNull || value.string == "none" { continue }
                throw .unsupported(key, Self.refused[key]!)
            case "modalities":
                if value.isNull || value.array?.allSatisfy({ $0.string == "text" }) == true { continue }
                throw .unsupported(key, "a pipeline answers in text")
            case "response_format":
                if value.isNull || value.object?["type"]?.string == "text" { continue }
                throw .unsupported(key, "a pipeline's final layer decides its reply's format; ask for JSON in the pipeline's prompts")
            default:
                if let why = Self.refused[key], !value.isNull { throw .unsupported(key, why) }
                ignored.append(key)
            }
        }
    }

    /// The conversation: system, developer, user and assistant messages with text content; the last is the user's.
    static func messages(_ value: JSONValue?) throws(APIError) -> [ChatMessage] {
        guard let list = value?.array else {
            throw .invalid("'messages' is required: a list of {role, content}.", param: "messages", code: "missing_required_parameter")
        }
        guard !list.isEmpty else { throw .invalid("'messages' must not be empty.", param: "messages") }
        var messages: [ChatMessage] = []
        for (index, item) in list.enumerated() {
            let param = "messages[\(index)]"
            guard let message = item.object, let role = message["role"]?.string else {
                throw .invalid("\(param) must be an object with a 'role'.", param: param)
            }
            let content = try text(message["content"], param: "\(param).content")
            switch role {
            case "system", "developer": messages.append(.system(content))
            case "user": messages.append(.user(content))
            case "assistant": messages.append(.assistant(content))
            default:
                throw APIError(
                    status: .badRequest, type: "invalid_request_error", code: "unsupported_content", param: "\(param).role",
                    message: "\(param) has role '\(role)': a pipeline takes system, developer, user and assistant messages.")
            }
        }
        guard messages.last?.role == .user else {
            throw .invalid("The last message must be the user's: the pipeline answers it.", param: "messages[\(list.count - 1)].role")
        }
        return messages
    }

    /// A message's text: a string, or a list of text parts joined.
    static func text(_ value: JSONValue?, param: String) throws(APIError) -> String {
        if let string = value?.string { return string }
        if value == nil || value == .null { return "" }
        guard let parts = value?.array else { throw .invalid("\(param) must be a string or a list of parts.", param: param) }
        var texts: [String] = []
        for part in parts {
            guard let fields = part.object, fields["type"]?.string == "text", let text = fields["text"]?.string else {
                let type = part.object?["type"]?.string.map { "'\($0)'" } ?? "a non-text"
                throw APIError(
                    status: .badRequest, type: "invalid_request_error", code: "unsupported_content", param: param,
                    message: "\(param) has \(type) part: pipelines take text only.")
            }
            texts.append(text)
        }
        return texts.joined(separator: "\n")
    }

    static func bool(_ value: JSONValue, _ key: String) throws(APIError) -> Bool {
        switch value {
        case .null: return false
        case .bool(let flag): return flag
        default: throw .invalid("'\(key)' must be true or false.", param: key)
        }
    }

    static func integer(_ value: JSONValue, _ key: String) throws(APIError) -> Int? {
        switch value {
        case .null: return nil
        case .number(let number) where number.rounded() == number && abs(number) < 9e15: return Int(number)
        default: throw .invalid("'\(key)' must be an integer.", param: key)
        }
    }
}
