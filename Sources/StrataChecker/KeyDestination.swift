import Foundation

/// Where an API key may be sent. A key goes only over https, or over plain
/// http to this machine (loopback); the hosted providers' well-known key
/// variables go only to their own hosts.
public enum KeyDestination {
    /// Key variables that belong to one hosted API.
    public static let hostedKeyHosts: [String: String] = [
        "OPENAI_API_KEY": "api.openai.com",
        "ANTHROPIC_API_KEY": "api.anthropic.com",
    ]

    /// The host of a base URL, lowercased, without port or brackets.
    public static func host(of baseURL: String) -> String? {
        URLComponents(string: baseURL)?.host?.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
    }

    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.") || host.hasSuffix(".localhost")
    }

    /// Why `variable`'s key must not be sent to `baseURL`, or nil when it may.
    public static func refusal(variable: String, baseURL: String) -> String? {
        guard let host = host(of: baseURL) else { return "'\(baseURL)' has no host" }
        let isHTTPS = baseURL.lowercased().hasPrefix("https://")
        if !isHTTPS, !isLoopback(host) {
            return "the key in \(variable) would cross the network unencrypted to \(host) (http://)"
        }
        if let home = hostedKeyHosts[variable], host != home, !isLoopback(host) {
            return "\(variable) is a key for \(home), and this model sends its key to \(host)"
        }
        return nil
    }
}
