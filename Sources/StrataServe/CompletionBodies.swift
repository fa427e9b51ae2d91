import Foundation
import StrataRuntime

/// Usage in OpenAI's shape, summed over every model call a pipeline made:
/// cache hits count as prompt and completion tokens (served from Strata's
/// cache, so `cached_tokens`, and free), plus what only Strata knows in `strata`.
struct CompletionUsage: Encodable, Sendable {
    var usage: RunUsage

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
        case promptDetails = "prompt_tokens_details", completionDetails = "completion_tokens_details", strata
    }

    var promptTokens: Int { usage.inputTokens + usage.cachedInputTokens }
    var completionTokens: Int { usage.outputTokens + usage.cachedOutputTokens }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(promptTokens, forKey: .promptTokens)
        try container.encode(completionTokens, forKey: .completionTokens)
        try container.encode(promptTokens + completionTokens, forKey: .totalTokens)
        try container.encode(["cached_tokens": usage.cachedInputTokens], forKey: .promptDetails)
        try container.encode(["reasoning_tokens": 0], forKey: .completionDetails)
        try container.encode(StrataUsage(usage), forKey: .strata)
    }
}

/// `usage.strata`: what the request cost in calls and dollars.
struct StrataUsage: Encodable, Sendable {
    var calls: Int
    var cacheHits: Int
    var failedCalls: Int
    var retries: Int
    var usd: Double
    var cachedCompletionTokens: Int

    init(_ usage: RunUsage) {
        calls = usage.calls
        cacheHits = usage.cacheHits
        failedCalls = usage.failedCalls
        retries = usage.retries
        usd = usage.usd
        cachedCompletionTokens = usage.cachedOutputTokens
    }

    enum CodingKeys: String, CodingKey {
        case calls, cacheHits = "cache_hits", failedCalls = "failed_calls", retries, usd
        case cachedCompletionTokens = "cached_completion_tokens"
    }
}

/// What every completion and chunk of one request shares.
struct CompletionIdentity: Sendable {
    var id: String
    var created: Int
    var model: String
    var fingerprint: String
}

/// A non-streamed answer: `chat.completion`.
struct ChatCompletion: Encodable, Sendable {
    struct Choice: Encodable, Sendable {
        var index: Int
        var content: String
        var finishReason: String

        enum CodingKeys: String, CodingKey { case index, message, logprobs, finishReason = "finish_reason" }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(Message(content: content), forKey: .message)
            try container.encodeNil(forKey: .logprobs)
            try container.encode(finishReason, forKey: .finishReason)
        }
    }

    struct Message: Encodable, Sendable {
        var role = "assistant"
        var content: String
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: DynamicKey.self)
            try container.encode(role, forKey: DynamicKey("role"))
            try container.encode(content, forKey: DynamicKey("content"))
            try container.encodeNil(forKey: DynamicKey("refusal"))
        }
    }

    var identity: CompletionIdentity
    var choices: [Choice]
    var usage: CompletionUsage

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: DynamicKey.self)
        try identity.encode(into: &container, object: "chat.completion")
        try container.encode(choices, forKey: DynamicKey("choices"))
        try container.encode(usage, forKey: DynamicKey("usage"))
    }
}

/// A streamed event: `chat.completion.chunk`. `usage` is null on every chunk
/// when the client asked for usage (and one last chunk with no choices carries
/// it), and absent when it did not, as OpenAI streams.
struct ChatCompletionChunk: Encodable, Sendable {
    var identity: CompletionIdentity
    var index = 0
    /// The delta's fields: role, content; none on the closing chunk.
    var role: String?
    var content: String?
    var finishReason: String?
    /// Whether the request asked for usage (so `usage` appears, as null or the total).
    var includeUsage: Bool
    var usage: CompletionUsage?
    /// The last chunk: usage only, no choices.
    var isUsageChunk = false

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: DynamicKey.self)
        try identity.encode(into: &container, object: "chat.completion.chunk")
        var choices = container.nestedUnkeyedContainer(forKey: DynamicKey("choices"))
        if !isUsageChunk {
            var choice = choices.nestedContainer(keyedBy: DynamicKey.self)
            try choice.encode(index, forKey: DynamicKey("index"))
            var delta = choice.nestedContainer(keyedBy: DynamicKey.self, forKey: DynamicKey("delta"))
            try delta.encodeIfPresent(role, forKey: DynamicKey("role"))
            try delta.encodeIfPresent(content, forKey: DynamicKey("content"))
            try choice.encodeNil(forKey: DynamicKey("logprobs"))
            if let finishReason {
                try choice.encode(finishReason, forKey: DynamicKey("finish_reason"))
            } else {
                try choice.encodeNil(forKey: DynamicKey("finish_reason"))
            }
        }
        if includeUsage {
            if let usage { try container.encode(usage, forKey: DynamicKey("usage")) } else { try container.encodeNil(forKey: DynamicKey("usage")) }
        }
    }
}

extension CompletionIdentity {
    func encode(into container: inout KeyedEncodingContainer<DynamicKey>, object: String) throws {
        try container.encode(id, forKey: DynamicKey("id"))
        try container.encode(object, forKey: DynamicKey("object"))
        try container.encode(created, forKey: DynamicKey("created"))
        try container.encode(model, forKey: DynamicKey("model"))
        try container.encode(fingerprint, forKey: DynamicKey("system_fingerprint"))
    }
}

/// A served pipeline as `GET /v1/models` lists it.
struct ModelCard: Encodable, Sendable {
    var id: String
    var object = "model"
    var created: Int
    var ownedBy = "strata"

    enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
}

struct ModelList: Encodable, Sendable {
    var object = "list"
    var data: [ModelCard]
}

struct DynamicKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

enum ServeJSON {
    static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
