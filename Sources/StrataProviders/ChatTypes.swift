/// One message of a conversation.
public struct ChatMessage: Sendable, Hashable, Codable {
    /// Who speaks.
    public enum Role: String, Sendable, Hashable, Codable { case system, user, assistant }

    /// Who speaks.
    public var role: Role
    /// What is said.
    public var content: String

    /// A message.
    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }

    /// A system message.
    public static func system(_ content: String) -> ChatMessage { ChatMessage(.system, content) }
    /// A user message.
    public static func user(_ content: String) -> ChatMessage { ChatMessage(.user, content) }
    /// An assistant message.
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(.assistant, content) }
}

/// A JSON schema the reply must follow (OpenAI `response_format: json_schema`).
public struct ResponseSchema: Sendable, Hashable, Codable {
    /// The schema's name, as the API asks for one.
    public var name: String
    /// The schema as canonical JSON text.
    public var json: String

    /// A schema from its JSON text.
    public init(name: String, json: String) {
        self.name = name
        self.json = json
    }
}

/// A provider-neutral chat completion request.
public struct ChatRequest: Sendable, Hashable, Codable {
    /// The model's name at the provider.
    public var model: String
    /// The conversation.
    public var messages: [ChatMessage]
    /// Sampling temperature.
    public var temperature: Double
    /// Nucleus sampling mass.
    public var topP: Double
    /// The most tokens a completion may have.
    public var maxTokens: Int
    /// The sampling seed, for providers that honour one.
    public var seed: Int?
    /// Completions wanted from this one request (only for providers that accept n > 1).
    public var n: Int
    /// A JSON schema the reply must follow (structured output).
    public var schema: ResponseSchema?
    /// Strings that end a completion.
    public var stop: [String]
    /// Ask for the tokens' log-probabilities, with this many alternatives per
    /// token (`top_logprobs`; 0 for the chosen tokens alone); nil asks for none.
    public var logprobs: Int?
    /// How to tell the provider's prompt cache what this call shares with others; nil says nothing.
    /// It changes where and how fast a reply is made, never what it says, so the response cache ignores it.
    public var promptCache: PromptCacheHint?

    /// A request.
    public init(
        model: String, messages: [ChatMessage], temperature: Double = 0.7, topP: Double = 1, maxTokens: Int = 512,
        seed: Int? = nil, n: Int = 1, schema: ResponseSchema? = nil, stop: [String] = [], logprobs: Int? = nil
    ) {
        self.model = model
        self.messages = messages
        self.temperature = temperature
        self.topP = topP
        self.maxTokens = maxTokens
        self.seed = seed
        self.n = n
        self.schema = schema
        self.stop = stop
        self.logprobs = logprobs
    }
}

/// What a call shares with others, for a provider's prompt cache.
public struct PromptCacheHint: Sendable, Hashable, Codable {
    /// How the provider is told.
    public enum Style: String, Sendable, Hashable, Codable {
        /// OpenAI's `prompt_cache_key`: requests with the same key go where that prefix is cached.
        case cacheKey
        /// Anthropic's `cache_control` breakpoint at the end of the shared messages.
        case breakpoint
        /// llama.cpp's `cache_prompt`: keep the slot's processed prompt and reuse its longest matching prefix.
        case cachePrompt
    }

    /// How the provider is told.
    public var style: Style
    /// Names the shared prefix: the same for every call that shares it.
    public var key: String
    /// The messages, from the first, that are the shared prefix.
    public var sharedMessages: Int

    /// A hint.
    public init(style: Style, key: String, sharedMessages: Int) {
        self.style = style
        self.key = key
        self.sharedMessages = sharedMessages
    }
}

/// Token counts a provider reports for one request.
public struct Usage: Sendable, Hashable, Codable {
    /// Prompt tokens.
    public var inputTokens: Int
    /// Completion tokens.
    public var outputTokens: Int
    /// Of the prompt tokens, those the provider read from its prompt cache instead of processing them again
    /// (OpenAI's `prompt_tokens_details.cached_tokens`, Anthropic's `cache_read_input_tokens`, llama.cpp's
    /// `timings.cache_n`): cheaper on hosted providers, faster everywhere.
    public var cachedInputTokens: Int

    /// Usage.
    public init(inputTokens: Int = 0, outputTokens: Int = 0, cachedInputTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
    }

    /// The sum of two usages.
    public static func + (lhs: Usage, rhs: Usage) -> Usage {
        Usage(
            inputTokens: lhs.inputTokens + rhs.inputTokens, outputTokens: lhs.outputTokens + rhs.outputTokens,
            cachedInputTokens: lhs.cachedInputTokens + rhs.cachedInputTokens)
    }

    // Replies cached before this field existed decode with none cached.
    enum CodingKeys: String, CodingKey { case inputTokens, outputTokens, cachedInputTokens }

    /// Decodes a usage; `cachedInputTokens` may be absent.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        inputTokens = try container.decode(Int.self, forKey: .inputTokens)
        outputTokens = try container.decode(Int.self, forKey: .outputTokens)
        cachedInputTokens = try container.decodeIfPresent(Int.self, forKey: .cachedInputTokens) ?? 0
    }

    /// OpenAI's usage object, with llama.cpp's `timings` where the usage does not say what was cached.
    static func openAI(_ usage: [String: Any]?, timings: [String: Any]?) -> Usage {
        let details = usage?["prompt_tokens_details"] as? [String: Any]
        return Usage(
            inputTokens: usage?["prompt_tokens"] as? Int ?? 0, outputTokens: usage?["completion_tokens"] as? Int ?? 0,
            cachedInputTokens: details?["cached_tokens"] as? Int ?? timings?["cache_n"] as? Int ?? 0)
    }

    /// Anthropic's usage object: its `input_tokens` leaves out what was read from or written to the cache.
    static func anthropic(_ usage: [String: Any]?) -> Usage {
        let read = usage?["cache_read_input_tokens"] as? Int ?? 0
        let written = usage?["cache_creation_input_tokens"] as? Int ?? 0
        return Usage(
            inputTokens: (usage?["input_tokens"] as? Int ?? 0) + read + written, outputTokens: usage?["output_tokens"] as? Int ?? 0,
            cachedInputTokens: read)
    }
}

/// A completed reply: one text per requested completion.
public struct ChatResponse: Sendable, Hashable, Codable {
    /// One text per completion, in order.
    public var texts: [String]
    /// For the whole request (OpenAI reports one total over all `n` choices).
    public var usage: Usage
    /// Why the first completion stopped.
    public var finishReason: String?
    /// Why each completion stopped, in the order of `texts`, when the reply said
    /// (nil in cache entries written before batching existed).
    public var finishReasons: [String?]?
    /// How sure the model was of each completion, in the order of `texts`,
    /// when the request asked for log-probabilities and the reply carried them.
    public var confidences: [Confidence?]?

    /// A reply.
    public init(
        texts: [String], usage: Usage, finishReason: String? = nil, finishReasons: [String?]? = nil, confidences: [Confidence?]? = nil
    ) {
        self.texts = texts
        self.usage = usage
        self.finishReason = finishReason
        self.finishReasons = finishReasons
        self.confidences = confidences
    }

    /// How sure the model was of completion `index`, when the reply said.
    public func confidence(of index: Int) -> Confidence? {
        guard let confidences, index < confidences.count else { return nil }
        return confidences[index]
    }

    /// Why completion `index` stopped.
    public func finishReason(of index: Int) -> String? {
        if let finishReasons, index < finishReasons.count { return finishReasons[index] }
        return index == 0 ? finishReason : nil
    }
}

/// What a call went through on its way to a reply, for the trace.
public struct CallRecord: Sendable, Hashable, Codable {
    /// HTTP attempts made (1 when the first succeeded).
    public var attempts: Int = 0
    /// Times the key was rotated after a quota or rate-limit reply.
    public var keyRotations: Int = 0
    /// Why each failed attempt failed, keys redacted.
    public var failures: [String] = []

    /// A call that has not been made yet.
    public init() {}
}
