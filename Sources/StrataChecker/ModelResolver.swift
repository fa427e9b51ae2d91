import StrataDiagnostics
import StrataSyntax

/// Provider defaults, applied where a declaration is silent.
struct ProviderDefaults {
    var baseURL: String?
    var apiKeyEnv: [String]
    var contextWindow: Int
    var supportsN: Bool
    var supportsJSONSchema: Bool
    var supportsSeed: Bool
    /// The share of the input price a prompt-cache read costs, by the provider's published discount.
    var cachedInputShare: Double
    /// Whether the cache hints go with each call unless the declaration says otherwise.
    var prefixCache: Bool

    static func of(_ provider: Provider) -> ProviderDefaults {
        switch provider {
        case .openai:
            ProviderDefaults(
                baseURL: "https://api.openai.com/v1", apiKeyEnv: ["OPENAI_API_KEY"], contextWindow: 128_000,
                supportsN: true, supportsJSONSchema: true, supportsSeed: true, cachedInputShare: 0.5, prefixCache: true)
        case .anthropic:
            ProviderDefaults(
                baseURL: "https://api.anthropic.com/v1", apiKeyEnv: ["ANTHROPIC_API_KEY"], contextWindow: 200_000,
                // A cache write costs 1.25× the input price: breakpoints only where the user asks for them.
                supportsN: false, supportsJSONSchema: false, supportsSeed: false, cachedInputShare: 0.1, prefixCache: false)
        case .openaiCompatible:
            ProviderDefaults(
                baseURL: nil, apiKeyEnv: [], contextWindow: 8_192,
                supportsN: false, supportsJSONSchema: false, supportsSeed: true, cachedInputShare: 1, prefixCache: false)
        }
    }
}

/// Merges the model declarations of a pipeline and its includes and fills defaults.
struct ModelResolver {
    var diagnostics: [Diagnostic] = []
    var models: [ResolvedModel] = []
    var index: [String: Int] = [:]
    var declaredAt: [String: SourceRange] = [:]

    mutating func add(_ syntax: ModelSyntax) {
        let name = syntax.name.value
        if let first = declaredAt[name] {
            diagnostics.append(
                Diagnostic(
                    .duplicateModel, "model '\(name)' is declared twice", at: syntax.name.range,
                    notes: [DiagnosticNote("it is first declared here", at: first)]))
            return
        }
        declaredAt[name] = syntax.name.range
        guard let provider = syntax.provider?.value else {
            diagnostics.append(
                Diagnostic(
                    .missingKey, "model '\(name)' has no 'provider'", at: syntax.name.range,
                    notes: [DiagnosticNote("one of: \(Provider.allCases.map(\.rawValue).joined(separator: ", "))")]))
            return
        }
        guard let modelID = syntax.model?.value else {
            diagnostics.append(
                Diagnostic(
                    .missingKey, "model '\(name)' has no 'model' (the provider's model id)", at: syntax.name.range,
                    notes: [DiagnosticNote("for example 'model: gpt-4o-mini' or 'model: claude-sonnet-4-5'")]))
            return
        }
        let defaults = ProviderDefaults.of(provider)
        var baseURL = syntax.baseURL?.value ?? defaults.baseURL ?? ""
        if let url = syntax.baseURL {
            if !(url.value.hasPrefix("http://") || url.value.hasPrefix("https://")) || url.value.count < 10 {
                diagnostics.append(Diagnostic(.providerSetting, "'base_url' must be an http:// or https:// URL, not '\(url.value)'", at: url.range))
            }
            while baseURL.hasSuffix("/") { baseURL.removeLast() }
        } else if provider == .openaiCompatible {
            diagnostics.append(
                Diagnostic(
                    .providerSetting, "model '\(name)' uses an openai-compatible server but gives no 'base_url'", at: syntax.name.range,
                    notes: [DiagnosticNote("for example 'base_url: http://127.0.0.1:8080/v1' (llama.cpp) or 'http://127.0.0.1:11434/v1' (Ollama)")]))
        }
        for variable in syntax.apiKeyEnv {
            let value = variable.value
            if Self.looksLikeKey(value) {
                // Never echo the value: it may be a real secret.
                diagnostics.append(
                    Diagnostic(
                        .providerSetting, "'api_key_env' must name an environment variable, but this looks like a key itself", at: variable.range,
                        notes: [DiagnosticNote("keys never belong in pipeline files; export the key and name its variable, e.g. 'api_key_env: OPENAI_API_KEY'")]
                    ))
            } else if !Self.isVariableName(value) {
                diagnostics.append(
                    Diagnostic(
                        .providerSetting, "'\(value)' is not a valid environment variable name", at: variable.range,
                        notes: [DiagnosticNote("use letters, digits and '_', not starting with a digit")]))
            }
        }
        // Keys go only where they are meant to: https (or this machine), and a hosted API's key only to that API.
        let keyVariables = syntax.apiKeyEnv.isEmpty ? defaults.apiKeyEnv : syntax.apiKeyEnv.map(\.value)
        for variable in keyVariables where !baseURL.isEmpty && Self.isVariableName(variable) {
            guard let refusal = KeyDestination.refusal(variable: variable, baseURL: baseURL) else { continue }
            let at = syntax.apiKeyEnv.first { $0.value == variable }?.range ?? syntax.baseURL?.range ?? syntax.name.range
            var notes = [DiagnosticNote("a pipeline file decides where keys go, so Strata refuses to send one anywhere it was not meant for")]
            if syntax.apiKeyEnv.isEmpty, !defaults.apiKeyEnv.isEmpty {
                notes.append(
                    DiagnosticNote(
                        "'provider: \(provider.rawValue)' sends \(variable) by default; for another server use 'provider: openai-compatible' and name its own key with 'api_key_env'"
                    ))
            } else if !KeyDestination.namesAKey(variable) {
                notes.append(
                    DiagnosticNote(
                        "name the variable that holds this server's key, or, if \(variable) really is one, allow it in your environment: export \(KeyDestination.allowListVariable)=\(variable)"
                    ))
            } else {
                notes.append(DiagnosticNote("use an https:// base_url, or a key variable of this server's own"))
            }
            diagnostics.append(Diagnostic(.providerSetting, "model '\(name)': \(refusal)", at: at, notes: notes))
        }
        models.append(
            ResolvedModel(
                name: name, provider: provider, modelID: modelID, baseURL: baseURL,
                apiKeyEnv: syntax.apiKeyEnv.isEmpty ? defaults.apiKeyEnv : syntax.apiKeyEnv.map(\.value),
                contextWindow: syntax.contextWindow?.value ?? defaults.contextWindow,
                priceInput: syntax.priceInput?.value ?? 0, priceOutput: syntax.priceOutput?.value ?? 0,
                priceCachedInput: syntax.priceCachedInput?.value ?? (syntax.priceInput?.value ?? 0) * defaults.cachedInputShare,
                supportsN: syntax.supportsN?.value ?? defaults.supportsN,
                supportsJSONSchema: syntax.supportsJSONSchema?.value ?? defaults.supportsJSONSchema,
                supportsSeed: syntax.supportsSeed?.value ?? defaults.supportsSeed,
                supportsStreaming: syntax.supportsStreaming?.value ?? true,
                supportsLogprobs: syntax.supportsLogprobs?.value ?? false, prefixCache: syntax.prefixCache?.value ?? defaults.prefixCache,
                maxInFlight: syntax.maxInFlight?.value ?? 8,
                requestsPerMinute: syntax.requestsPerMinute?.value, tokensPerMinute: syntax.tokensPerMinute?.value,
                overheadMs: syntax.overheadMs?.value ?? 500, tokensPerSecond: syntax.tokensPerSecond?.value ?? 50))
        index[name] = models.count - 1
    }

    static func isVariableName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, !(("0"..."9").contains(first)) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) }
    }

    static func looksLikeKey(_ text: String) -> Bool {
        text.hasPrefix("sk-") || text.hasPrefix("sk_") || (text.count >= 32 && !text.contains("_") && text.contains(where: \.isNumber))
    }
}
