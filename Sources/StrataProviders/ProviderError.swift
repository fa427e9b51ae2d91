/// Why a model call failed. Messages never contain API keys: every text that
/// came from the network passes through `KeyRing.redact` first.
public enum ProviderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server answered with an error status.
    case http(status: Int, message: String)
    /// The connection failed or broke.
    case network(String)
    /// A connect, read or total timeout expired.
    case timeout(String)
    /// Nothing listens where the model is said to be (the connection was refused): retrying cannot help.
    case unreachable(host: String)
    /// The reply could not be read: bad JSON, no choices, empty content.
    case malformedResponse(String)
    /// None of the environment variables named for the model holds a key.
    case missingKey(variables: [String])
    /// The caller cancelled.
    case cancelled

    /// The reply that arrived whole but said nothing: the same request with the
    /// same seed says nothing again, so only a fresh seed (the runtime's retry) helps.
    public static let emptyContent = ProviderError.malformedResponse("empty content")

    /// Whether another attempt of the same request may succeed (408, 409, 429,
    /// 5xx, network, timeouts, bodies broken in transit — not an empty reply).
    public var isRetryable: Bool {
        switch self {
        case .http(let status, _): status == 408 || status == 409 || status == 429 || (500...599).contains(status)
        case .malformedResponse: self != Self.emptyContent
        case .network, .timeout: true
        case .missingKey, .cancelled, .unreachable: false
        }
    }

    /// The error in words, keys redacted.
    public var description: String {
        switch self {
        case .http(let status, let message): "HTTP \(status): \(message)"
        case .network(let message): "network error: \(message)"
        case .timeout(let message): "timeout: \(message)"
        case .unreachable(let host): "nothing listens on \(host) (connection refused); is the server running?"
        case .malformedResponse(let message): "malformed reply: \(message)"
        case .missingKey(let variables):
            variables.isEmpty ? "no API key variable is declared" : "no API key in \(variables.joined(separator: " or "))"
        case .cancelled: "cancelled"
        }
    }
}
