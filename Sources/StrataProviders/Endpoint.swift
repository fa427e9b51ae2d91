/// Where a provider sends its requests and how it authenticates: all a
/// provider needs to know of a declared model, so this module does not
/// depend on the language that declares it.
public struct Endpoint: Sendable, Hashable {
    /// The HTTP API the endpoint speaks.
    public enum API: String, Sendable, Hashable {
        /// OpenAI Chat Completions, and every server that speaks it.
        case openAI
        /// Anthropic Messages.
        case anthropic
    }

    /// The API it speaks.
    public var api: API
    /// The API's root, e.g. `https://api.openai.com/v1`.
    public var baseURL: String
    /// Environment variables holding keys, tried in order (rotated on quota errors).
    public var keyVariables: [String]
    /// Whether a request without a key is refused before it is sent (hosted
    /// APIs always need one; self-hosted servers usually do not).
    public var requiresKey: Bool

    /// An endpoint.
    public init(api: API, baseURL: String, keyVariables: [String] = [], requiresKey: Bool) {
        self.api = api
        self.baseURL = baseURL
        self.keyVariables = keyVariables
        self.requiresKey = requiresKey
    }
}
