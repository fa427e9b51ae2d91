import Crypto
import Foundation
import GRDB
import StrataProviders

/// Whether the cache is read, written, both, or neither.
public enum CacheMode: String, Sendable, CaseIterable, Codable {
    case off, read, write, readwrite

    public var reads: Bool { self == .read || self == .readwrite }
    public var writes: Bool { self == .write || self == .readwrite }
}

/// A content-addressed response cache in SQLite (WAL, safe under concurrent
/// writers, in one process or several). The key is SHA-256 over the canonical
/// request — endpoint identity, model, messages, sampling parameters, schema —
/// plus the sample index, so repeated samples stay distinct. Keys of the API
/// are never part of the request, so they never reach the cache.
public final class ResponseCache: Sendable {
    public let mode: CacheMode
    private let database: DatabasePool?

    /// Whether lookups or stores do anything; callers skip computing keys otherwise.
    public var isEnabled: Bool { mode != .off }

    /// Opens (creating if needed) the cache at `path`.
    public init(path: String, mode: CacheMode = .readwrite) throws {
        self.mode = mode
        guard mode != .off else {
            database = nil
            return
        }
        let pool = try SQLiteFile.openPool(at: path)
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS responses (
                    key TEXT PRIMARY KEY NOT NULL,
                    response BLOB NOT NULL,
                    created_at REAL NOT NULL
                )
                """)
        }
        database = pool
    }

    /// A cache that does nothing.
    public static let disabled = try! ResponseCache(path: "", mode: .off)

    /// The cache key of a request: SHA-256 hex of its canonical JSON, the
    /// endpoint and the sample index.
    public static func key(endpoint: String, request: ChatRequest, sample: Int) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var canonical = Data("strata-cache-v1\n\(endpoint)\n\(sample)\n".utf8)
        canonical.append((try? encoder.encode(request)) ?? Data())
        return ContentHash.sha256(canonical)
    }

    public func lookup(_ key: String) -> ChatResponse? {
        guard mode.reads, let database else { return nil }
        let data = try? database.read { db in
            try Data.fetchOne(db, sql: "SELECT response FROM responses WHERE key = ?", arguments: [key])
        }
        return data.flatMap { try? JSONDecoder().decode(ChatResponse.self, from: $0) }
    }

    public func store(_ response: ChatResponse, for key: String) {
        guard mode.writes, let database, let data = try? JSONEncoder().encode(response) else { return }
        try? database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO responses (key, response, created_at) VALUES (?, ?, ?)",
                           arguments: [key, data, Date().timeIntervalSince1970])
        }
    }

    /// Entries stored, for reports and tests.
    public func count() -> Int {
        guard let database else { return 0 }
        return (try? database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM responses") }) ?? 0 ?? 0
    }
}

/// SHA-256 as lowercase hex: cache keys, pipeline and dataset hashes.
public enum ContentHash {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func sha256(_ data: Data) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for byte in SHA256.hash(data: data) {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func sha256(_ text: String) -> String { sha256(Data(text.utf8)) }
}
