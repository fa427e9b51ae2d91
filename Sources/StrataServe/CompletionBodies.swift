import Foundation
import StrataProviders
import StrataRuntime

/// Usage in OpenAI's shape, summed over every model call a pipeline made:
/// cache hits count as prompt and completion tokens (served from Strata's
/// cache, so `cached_tokens`, and free), plus what only Strata knows in `strata`.
struct CompletionUsage: Sendable {
    var usage: RunUsage

    var promptTokens: Int { usage.inputTokens + usage.cachedInputTokens }
    var completionTokens: Int { usage.outputTokens + usage.cachedOutputTokens }

    var json: JSONBody {
        [
            "prompt_tokens": .int(promptTokens),
            "completion_tokens": .int(completionTokens),
            "total_tokens": .int(promptTokens + completionTokens),
            "prompt_tokens_details": ["cached_tokens": .int(usage.cachedInputTokens)],
            "completion_tokens_details": ["reasoning_tokens": 0],
            // What the request cost in calls and dollars.
            "strata": [
                "calls": .int(usage.calls), "cache_hits": .int(usage.cacheHits), "failed_calls": .int(usage.failedCalls),
                "retries": .int(usage.retries), "usd": .double(usage.usd), "cached_completion_tokens": .int(usage.cachedOutputTokens),
            ],
        ]
    }
}

/// What every completion and chunk of one request shares.
struct CompletionIdentity: Sendable {
    var id: String
    var created: Int
    var model: String
    var fingerprint: String

    /// The fields every body of the request has, for an `object` of this kind.
    func fields(object: String) -> [String: JSONBody] {
        ["id": .string(id), "object": .string(object), "created": .int(created), "model": .string(model), "system_fingerprint": .string(fingerprint)]
    }
}

/// A non-streamed answer: `chat.completion`. Written with `JSONBody`, not an
/// encoder: it is on every request's path.
struct ChatCompletion: Sendable {
    struct Choice: Sendable {
        var index: Int
        var content: String
        var finishReason: String

        var json: JSONBody {
            [
                "index": .int(index),
                "message": ["role": "assistant", "content": .string(content), "refusal": .null],
                "logprobs": .null,
                "finish_reason": .string(finishReason),
            ]
        }
    }

    var identity: CompletionIdentity
    var choices: [Choice]
    var usage: CompletionUsage

    var json: JSONBody {
        var fields = identity.fields(object: "chat.completion")
        fields["choices"] = .array(choices.map(\.json))
        fields["usage"] = usage.json
        return .object(fields)
    }
}

/// A streamed event: `chat.completion.chunk`. `usage` is null on every chunk
/// when the client asked for usage (and one last chunk with no choices carries
/// it), and absent when it did not, as OpenAI streams.
struct ChatCompletionChunk: Sendable {
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

    var json: JSONBody {
        var fields = identity.fields(object: "chat.completion.chunk")
        if isUsageChunk {
            fields["choices"] = []
        } else {
            var delta: [String: JSONBody] = [:]
            if let role { delta["role"] = .string(role) }
            if let content { delta["content"] = .string(content) }
            fields["choices"] = [
                ["index": .int(index), "delta": .object(delta), "logprobs": .null, "finish_reason": finishReason.map(JSONBody.string) ?? .null]
            ]
        }
        if includeUsage { fields["usage"] = usage?.json ?? .null }
        return .object(fields)
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

enum ServeJSON {
    static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
