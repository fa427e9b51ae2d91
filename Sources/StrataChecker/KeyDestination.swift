import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where an API key may be sent. A key goes only over https, or over plain
/// http to this machine (loopback: `localhost`, 127.0.0.0/8 and ::1, parsed
/// as addresses, never matched as text); a hosted provider's key variable
/// goes only to that provider's hosts (or loopback); and only a variable
/// whose name says it holds a key is sent at all, unless the user lists it
/// in `STRATA_KEY_VARIABLES` (a pipeline file must not be able to send
/// `DATABASE_URL` anywhere).
package enum KeyDestination {
    /// Key variables that belong to one hosted API, and the hosts that API answers on.
    package static let hostedKeyHosts: [String: [String]] = [
        "OPENAI_API_KEY": ["api.openai.com"],
        "ANTHROPIC_API_KEY": ["api.anthropic.com"],
        "TOGETHER_API_KEY": ["api.together.xyz", "api.together.ai"],
        "GROQ_API_KEY": ["api.groq.com"],
        "OPENROUTER_API_KEY": ["openrouter.ai"],
        "MISTRAL_API_KEY": ["api.mistral.ai"],
        "DEEPSEEK_API_KEY": ["api.deepseek.com"],
        "FIREWORKS_API_KEY": ["api.fireworks.ai"],
        "XAI_API_KEY": ["api.x.ai"],
        "GEMINI_API_KEY": ["generativelanguage.googleapis.com"],
    ]

    /// The variable the user's environment uses to allow other names (comma-separated).
    package static let allowListVariable = "STRATA_KEY_VARIABLES"

    /// The host of a base URL, lowercased, without port or brackets.
    package static func host(of baseURL: String) -> String? {
        guard let host = URLComponents(string: baseURL)?.host?.lowercased(), !host.isEmpty else { return nil }
        return host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// True for `localhost`, an IPv4 address in 127.0.0.0/8 (four decimal octets), and ::1 (or 127/8 mapped into IPv6).
    package static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host == "localhost." { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
            return mapped && bytes[12] == 127
        }
        return false
    }

    /// The hosted provider `variable` belongs to (`TOGETHER_API_KEY_2` is Together's too), with its hosts.
    static func home(of variable: String) -> (variable: String, hosts: [String])? {
        if let hosts = hostedKeyHosts[variable] { return (variable, hosts) }
        for (name, hosts) in hostedKeyHosts where variable.hasPrefix(name + "_") {
            let suffix = variable.dropFirst(name.count + 1)
            if !suffix.isEmpty, suffix.allSatisfy(\.isNumber) { return (name, hosts) }
        }
        return nil
    }

    /// True when the name says the variable holds a key or token: a part `KEY`, `APIKEY` or `TOKEN`, or one ending in `KEY`,
    /// optionally numbered (`…_2`).
    package static func namesAKey(_ variable: String) -> Bool {
        var parts = variable.uppercased().split(separator: "_")
        if let last = parts.last, last.allSatisfy(\.isNumber) { parts.removeLast() }
        return parts.contains { $0 == "KEY" || $0 == "TOKEN" || $0 == "APIKEY" || ($0.hasSuffix("KEY") && $0.count <= 10) }
    }

    /// The names the user allows beyond those that name a key.
    package static func allowedByUser(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Set<String> {
        Set((environment[allowListVariable] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    /// Why `variable`'s key must not be sent to `baseURL`, or nil when it may.
    package static func refusal(variable: String, baseURL: String, allowed: Set<String> = allowedByUser()) -> String? {
        guard let host = host(of: baseURL) else { return "'\(baseURL)' has no host" }
        let isHTTPS = baseURL.lowercased().hasPrefix("https://")
        let loopback = isLoopback(host)
        if !isHTTPS, !loopback {
            return "the key in \(variable) would cross the network unencrypted to \(host) (http://)"
        }
        if let home = home(of: variable), !home.hosts.contains(host), !loopback {
            return "\(variable) is a key for \(home.hosts[0]), and this model sends its key to \(host)"
        }
        if !namesAKey(variable), !allowed.contains(variable) {
            return "\(variable) does not name a key (its name has no KEY or TOKEN part), and Strata sends only keys"
        }
        return nil
    }
}
