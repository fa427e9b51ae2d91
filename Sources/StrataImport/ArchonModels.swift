import Foundation
import StrataDiagnostics

/// Where an Archon `model_type` sends its requests in Strata's terms.
struct ArchonProvider: Sendable, Equatable {
    var provider: String
    var baseURL: String?
    var keyVariable: String?

    /// Archon's transports, mapped to Strata's providers (nil: none; the caller says why).
    static func of(_ modelType: String) -> ArchonProvider? {
        switch modelType {
        case "OpenAI_API": ArchonProvider(provider: "openai", baseURL: nil, keyVariable: nil)
        case "Anthropic_API": ArchonProvider(provider: "anthropic", baseURL: nil, keyVariable: nil)
        case "Together_API": ArchonProvider(provider: "openai-compatible", baseURL: "https://api.together.xyz/v1", keyVariable: "TOGETHER_API_KEY")
        case "Groq_API": ArchonProvider(provider: "openai-compatible", baseURL: "https://api.groq.com/openai/v1", keyVariable: "GROQ_API_KEY")
        // Gemini's OpenAI-compatible endpoint: the same models as Archon's SDK path.
        case "Google_API":
            ArchonProvider(
                provider: "openai-compatible", baseURL: "https://generativelanguage.googleapis.com/v1beta/openai", keyVariable: "GOOGLE_API_KEY")
        // Archon runs vLLM in-process; here it is `vllm serve`'s default address.
        case "vLLM": ArchonProvider(provider: "openai-compatible", baseURL: "http://127.0.0.1:8000/v1", keyVariable: nil)
        default: nil
        }
    }
}

/// Context windows of the models Archon's configurations name, so the
/// checker can prove a prompt fits (Archon never checks; an overflow is a
/// dropped answer at run time).
enum ArchonContextWindows {
    static let exact: [String: Int] = [
        "qwen/qwen2-72b-instruct": 32768, "qwen/qwen1.5-110b-chat": 32768, "qwen/qwen1.5-72b-chat": 32768, "qwen/qwen1.5-14b-chat": 32768,
        "qwen/qwen1.5-7b-chat": 32768, "databricks/dbrx-instruct": 32768, "mistralai/mistral-7b-instruct-v0.3": 32768,
        "nousresearch/nous-hermes-2-mistral-7b-dpo": 32768, "togethercomputer/stripedhyena-nous-7b": 32768,
        "snorkelai/snorkel-mistral-pairrm-dpo": 32768,
        "microsoft/wizardlm-2-8x22b": 65536, "mistralai/mixtral-8x22b-instruct-v0.1": 65536,
        "meta-llama/llama-3-70b-chat-hf": 8192, "meta-llama/llama-3-8b-chat-hf": 8192, "meta-llama/meta-llama-3-8b-instruct-turbo": 8192,
        "google/gemma-2-9b-it": 8192, "google/gemma-2-27b-it": 8192, "bigcode/starcoder": 8192, "gpt-4-0314": 8192,
        "bedrock/meta.llama3-70b-instruct-v1:0": 8192,
        "deepseek-ai/deepseek-llm-67b-chat": 4096, "garage-baind/platypus2-70b-instruct": 4096,
        "deepseek-ai/deepseek-coder-33b-instruct": 16384, "codellama/codellama-34b-python-hf": 16384, "phind/phind-codellama-34b-python-v1": 16384,
        "meta-llama/meta-llama-3.1-70b-instruct-turbo": 131072, "meta-llama/meta-llama-3.1-8b-instruct-turbo": 131072,
        "llama-3.1-70b-versatile": 131072, "meta-llama/meta-llama-3.1-405b-instruct-turbo": 130815,
        "gpt-3.5-turbo-0125": 16385, "gemini-1.5-pro-001": 2_097_152, "gemini-1.5-flash": 1_048_576, "facebook/opt-125m": 2048,
    ]
    static let prefixes: [(String, Int)] = [("gpt-4o", 128000), ("gpt-4-turbo", 128000), ("o1", 128000), ("claude-3", 200000)]

    /// The window of `model` (compared without case, as the corpus spells ids both ways), or nil when unknown.
    static func of(_ model: String) -> Int? {
        let id = model.lowercased()
        return exact[id] ?? prefixes.first { id.hasPrefix($0.0) }?.1
    }
}

/// Names for model declarations: the id's last path segment, lowercased, with
/// every run of other characters than `[a-z0-9.]` a dash; a second model
/// with the same name gets `-2`, and so on, in first-use order.
struct ModelNames {
    private(set) var names: [String: String] = [:]  // identity → name
    private var taken: Set<String> = []

    mutating func name(for model: String, identity: String) -> String {
        if let name = names[identity] { return name }
        let last = model.split(separator: "/").last.map(String.init) ?? model
        var base = ""
        var dashed = false
        for character in last.lowercased() {
            if character.isASCII, character.isLetter || character.isNumber || character == "." {
                base.append(character)
                dashed = false
            } else if !dashed {
                base.append("-")
                dashed = true
            }
        }
        base = base.trimmingCharacters(in: ["-"])
        if base.isEmpty { base = "model" }
        var name = base
        var suffix = 2
        while taken.contains(name) {
            name = "\(base)-\(suffix)"
            suffix += 1
        }
        taken.insert(name)
        names[identity] = name
        return name
    }
}
