import Foundation

/// Where a PostgreSQL store is: `postgres://USER@HOST:PORT/DATABASE?sslmode=…`.
/// The password never travels in the URL (it would show in `ps`, shell
/// history and logs): it comes from `PGPASSWORD`, or a variable the user names.
package struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    package enum TLSMode: String, Sendable, Hashable {
        case disable, prefer, require
    }

    package var host: String
    package var port: Int
    package var user: String
    package var database: String
    package var tls: TLSMode
    /// Never printed.
    var password: String?

    /// Whether `text` names a PostgreSQL store rather than a file.
    package static func isURL(_ text: String) -> Bool { text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") }

    /// Parses the URL; the password is read from `passwordVariable` (default `PGPASSWORD`) in `environment`.
    package init(url text: String, passwordVariable: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let form = "postgres://USER@HOST:PORT/DATABASE"
        guard Self.isURL(text), let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw PostgresStoreError.badLocation("'\(Self.redacted(text))' is not a URL of the form \(form)")
        }
        // Spaces, quotes and control characters must be percent-encoded; a host is a name or an address.
        if let bad = text.unicodeScalars.first(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0 == "\"" || $0 == "'" || $0 == "`" || $0 == "\\" }) {
            throw PostgresStoreError.badLocation(
                "'\(Self.redacted(text))' is not a valid URL: \(bad.properties.isWhitespace ? "a space" : "the character U+\(String(bad.value, radix: 16, uppercase: true))") must be percent-encoded (\(form))"
            )
        }
        let hostCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]%")
        guard host.unicodeScalars.allSatisfy(hostCharacters.contains), !(components.port.map { !(1...65535).contains($0) } ?? false) else {
            throw PostgresStoreError.badLocation("'\(Self.redacted(text))' has no valid host and port (\(form))")
        }
        if components.password != nil {
            throw PostgresStoreError.badLocation(
                "the URL carries a password, which would show in process lists and logs; put it in PGPASSWORD (or --store-password-env NAME) instead")
        }
        self.host = host
        port = components.port ?? 5432
        user = components.user ?? environment["PGUSER"] ?? "postgres"
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? user : path
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        default: throw PostgresStoreError.badLocation("sslmode '\(mode)' is not one of disable, prefer, require")
        }
        let variable = passwordVariable ?? "PGPASSWORD"
        password = environment[variable]
        if passwordVariable != nil, password == nil {
            throw PostgresStoreError.badLocation("the password variable \(variable) is not set")
        }
    }

    /// The URL without any secret, for logs and reports.
    package var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "…"
        return components.string ?? "postgres://…"
    }
}

/// Why a PostgreSQL store could not be used.
package enum PostgresStoreError: Error, CustomStringConvertible {
    case badLocation(String)
    case unreachable(String)
    case corrupt(String)

    package var description: String {
        switch self {
        case .badLocation(let message): message
        case .unreachable(let message): message
        case .corrupt(let message): message
        }
    }
}
