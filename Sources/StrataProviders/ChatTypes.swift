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

/// Token counts a provider reports for one request.
public struct Usage: Sendable, Hashable, Codable {
    /// Prompt tokens.
    public var inputTokens: Int
    /// Completion tokens.
    public var outputTokens: Int

    /// Usage.
    public init(inputTokens: Int = 0, outputTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }

    /// The sum of two usages.
    public static func + (lhs: Usage, rhs: Usage) -> Usage {
        Usage(inputTokens: lhs.inputTokens + rhs.inputTokens, outputTokens: lhs.outputTokens + rhs.outputTokens)
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
