import Crypto
import Foundation
import GRDB
import StrataProviders
import Synchronization

/// Whether the cache is read, written, both, or neither.
public enum CacheMode: String, Sendable, CaseIterable, Codable {
    case off, read, write, readwrite

    /// Whether the cache answers lookups.
    public var reads: Bool { self == .read || self == .readwrite }
    /// Whether the cache keeps new replies.
    public var writes: Bool { self == .write || self == .readwrite }
}

/// Something the response cache could not do. The run goes on without it (a
/// miss, an unstored reply), but never silently: every problem is counted and
/// the first few of each kind are passed to the cache's reporter.
public struct CacheProblem: Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: String, Sendable, CaseIterable {
        /// The file was not a readable SQLite database; it was moved aside and a new cache started.
        case corruptFile = "corrupt file"
        /// An entry could not be decoded; the request went to the model.
        case unreadableEntry = "unreadable entry"
        /// Another process held the cache's lock past the wait limit; the reply was not stored (or not looked up).
        case lockTimeout = "lock timeout"
        /// A lookup or store waited long for the lock, but got it.
        case slowLock = "slow lock"
        /// SQLite refused a read or a write for another reason (disk full, I/O error).
        case failed = "failed"
        /// The cache file could not be opened (a directory, a read-only place); the run goes on without it.
        case unavailable = "unavailable"
        /// An entry's bytes do not match its checksum (damaged on disk); the request went to the model.
        case damagedEntry = "damaged entry"
        /// The shared level failed or was late; the call went on without it, and it is left alone for a while.
        case sharedUnavailable = "shared cache unavailable"
    }

    /// What went wrong.
    public var kind: Kind
    /// In words.
    public var message: String
    /// The problem, prefixed `cache:`.
    public var description: String { "cache: \(message)" }
}

/// A content-addressed response cache in SQLite (WAL, safe under concurrent
/// writers, in one process or several). The key is SHA-256 over the canonical
/// request — endpoint identity, model, messages, sampling parameters, schema —
/// plus the sample index, so repeated samples stay distinct. Keys of the API
/// are never part of the request, so they never reach the cache.
///
/// With a `shared` level (a PostgreSQL table many machines reach), a local
/// miss is looked up there, and a reply is stored in both: workers on
/// different machines then pay once for a request they share. The shared
/// level is bounded by `sharedLimits`: late or failing, it is a miss.
public final class ResponseCache: Sendable {
    /// Whether it reads, writes, both or neither.
    public let mode: CacheMode
    /// The SQLite file.
    public let path: String
    private let database: DatabasePool?
    private let problems: ProblemLog
    /// The level shared between machines, if any.
    public let shared: (any SharedResponseTier)?
    /// How long the shared level may take, and how long it rests after failing.
    public let sharedLimits: SharedTierLimits
    /// Until when the shared level is left alone after a failure.
    private let sharedPausedUntil = Mutex<Deadline?>(nil)
    private let sharedHitCount = Atomic<Int>(0)
    /// How long a lookup or store waits for another process's lock. A cache is
    /// worth less than the run it would stall, so this is short.
    public let lockTimeout: TimeInterval

    /// Whether lookups or stores do anything; callers skip computing keys otherwise.
    public var isEnabled: Bool { mode != .off }

    /// Opens (creating if needed) the cache at `path`. A file that is not a
    /// readable SQLite database is moved aside (`path.corrupt-TIME`) and a new
    /// cache started, reported as `.corruptFile`. `report` hears the first
    /// three problems of each kind, as they happen. `shared` is a level behind
    /// the file that other machines read and write too.
    public init(
        path: String, mode: CacheMode = .readwrite, lockTimeout: TimeInterval = 5, shared: (any SharedResponseTier)? = nil,
        sharedLimits: SharedTierLimits = SharedTierLimits(), report: @escaping @Sendable (CacheProblem) -> Void = { _ in }
    ) throws {
        self.mode = mode
        self.path = path
        self.lockTimeout = lockTimeout
        self.shared = mode == .off ? nil : shared
        self.sharedLimits = sharedLimits
        self.problems = ProblemLog(report: report)
        guard mode != .off else {
            database = nil
            return
        }
        database = Self.openOrReport(path, lockTimeout: lockTimeout, problems: problems)
    }

    /// The cache's database, or nil — said once — when it cannot be had (a directory, a read-only place): a cache is
    /// worth less than the run, so the run goes on without it. A file that is not SQLite is moved aside and replaced.
    private static func openOrReport(_ path: String, lockTimeout: TimeInterval, problems: ProblemLog) -> DatabasePool? {
        do {
            do {
                return try open(path, lockTimeout: lockTimeout)
            } catch let error as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
                let aside = "\(path).corrupt-\(Int(Date().timeIntervalSince1970))"
                try FileManager.default.moveItem(atPath: path, toPath: aside)
                for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
                problems.add(
                    CacheProblem(
                        kind: .corruptFile,
                        message:
                            "'\(path)' was not a readable SQLite database (\(error.message ?? "\(error.resultCode)")); moved it to '\(aside)' and started an empty cache"
                    ))
                return try open(path, lockTimeout: lockTimeout)
            }
        } catch {
            problems.add(CacheProblem(kind: .unavailable, message: "cannot open '\(path)' (\(error)); running without the cache"))
            return nil
        }
    }

    private static func open(_ path: String, lockTimeout: TimeInterval) throws -> DatabasePool {
        let pool = try SQLiteFile.openPool(at: path, busyTimeout: lockTimeout)
        try pool.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS responses (
                        key TEXT PRIMARY KEY NOT NULL,
                        response BLOB NOT NULL,
                        created_at REAL NOT NULL
                    )
                    """)
        }
        return pool
    }

    /// A cache that does nothing.
    public static let disabled = ResponseCache(off: ())

    private init(off: Void) {
        mode = .off
        path = ""
        lockTimeout = 5
        shared = nil
        sharedLimits = SharedTierLimits()
        problems = ProblemLog(report: { _ in })
        database = nil
    }

    /// The cache key of a request: SHA-256 hex of its canonical JSON, the
    /// endpoint and the sample index.
    public static func key(endpoint: String, request: ChatRequest, sample: Int) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var canonical = Data("strata-cache-v1\n\(endpoint)\n\(sample)\n".utf8)
        var request = request
        request.promptCache = nil
        canonical.append((try? encoder.encode(request)) ?? Data())
        return ContentHash.sha256(canonical)
    }

    /// The reply stored under `key`: in the local file, else in the shared
    /// level (and then copied into the file). Async: GRDB reads on its own
    /// threads, so a wait for another process's lock never blocks Swift's cooperative pool.
    public func lookup(_ key: String) async -> ChatResponse? {
        guard mode.reads, let database else { return nil }
        let local =
            await attempt(
                "look up a reply",
                {
                    try await database.read { db in
                        try Data.fetchOne(db, sql: "SELECT response FROM responses WHERE key = ?", arguments: [key])
                    }
                }) ?? nil
        if let local, let response = decode(local, key: key, from: "'\(path)'") { return response }
        guard let shared, let data = await sharedAttempt("look up a reply", { try await shared.lookup(key) }) ?? nil,
            let response = decode(data, key: key, from: "the shared cache at \(shared.location)")
        else { return nil }
        sharedHitCount.add(1, ordering: .relaxed)
        if mode.writes { await storeLocally(data, for: key) }
        return response
    }

    /// A stored entry: `sha256:<hex of the reply>` and a newline, then the reply's JSON.
    static func framed(_ reply: Data) -> Data {
        var data = Data("sha256:\(ContentHash.sha256(reply))\n".utf8)
        data.append(reply)
        return data
    }

    /// The reply inside a stored entry, nil unless its checksum holds (then it is re-asked and replaced).
    private func verified(_ data: Data, key: String, from place: String) -> Data? {
        let prefix = Data("sha256:".utf8)
        guard data.starts(with: prefix), let newline = data.firstIndex(of: 0x0A) else {
            let replaced = mode.writes ? ", and its reply replaces the entry" : ""
            problems.add(
                CacheProblem(
                    kind: .unreadableEntry,
                    message: "entry \(key.prefix(12)) in \(place) is not a stored reply (\(data.count) bytes, no checksum); asked the model instead\(replaced)")
            )
            return nil
        }
        let reply = data[data.index(after: newline)...]
        let expected = String(decoding: data[data.startIndex + prefix.count..<newline], as: UTF8.self)
        guard ContentHash.sha256(Data(reply)) == expected else {
            problems.add(
                CacheProblem(
                    kind: .damagedEntry,
                    message: "entry \(key.prefix(12)) in \(place) does not match its checksum (damaged); asked the model instead"))
            return nil
        }
        return Data(reply)
    }

    private func decode(_ stored: Data, key: String, from place: String) -> ChatResponse? {
        guard let data = verified(stored, key: key, from: place) else { return nil }
        do {
            return try JSONDecoder().decode(ChatResponse.self, from: data)
        } catch {
            let replaced = mode.writes ? ", and its reply replaces the entry" : ""
            problems.add(
                CacheProblem(
                    kind: .unreadableEntry,
                    message: "entry \(key.prefix(12)) in \(place) is not a stored reply (\(data.count) bytes); asked the model instead\(replaced)"))
            return nil
        }
    }

    /// Stores `response` under `key`, locally and in the shared level (async, like `lookup`).
    public func store(_ response: ChatResponse, for key: String) async {
        guard mode.writes, database != nil, let reply = try? JSONEncoder().encode(response) else { return }
        let data = Self.framed(reply)
        // A paid reply is stored even when the call's task was cancelled just after it
        // arrived (a quorum met, a deadline): the writes run in a task of their own.
        await Task {
            await storeLocally(data, for: key)
            if let shared { _ = await sharedAttempt("store a reply", { try await shared.store(data, for: key) }) }
        }.value
    }

    private func storeLocally(_ data: Data, for key: String) async {
        guard let database else { return }
        _ = await attempt("store a reply") {
            try await database.write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO responses (key, response, created_at) VALUES (?, ?, ?)",
                    arguments: [key, data, Date().timeIntervalSince1970])
            }
        }
    }

    /// Runs one access to the shared level within its deadline. A failure
    /// or a late answer is a problem, and the level is left alone for a
    /// while, so an outage costs each call nothing after the first wait.
    private func sharedAttempt<T: Sendable>(_ what: String, _ body: @escaping @Sendable () async throws -> T) async -> T? {
        guard let shared else { return nil }
        if let pause = sharedPausedUntil.withLock({ $0 }), !pause.hasPassed { return nil }
        do {
            return try await withDeadline(sharedLimits.deadline, clock: sharedLimits.clock, body)
        } catch is CancellationError {
            return nil
        } catch {
            sharedPausedUntil.withLock { $0 = Deadline(seconds: sharedLimits.pauseAfterFailure, on: sharedLimits.clock) }
            problems.add(
                CacheProblem(
                    kind: .sharedUnavailable,
                    message:
                        "could not \(what) in the shared cache at \(shared.location) (\(error)); carried on without it, and try it again in \(String(format: "%g", sharedLimits.pauseAfterFailure)) s"
                ))
            return nil
        }
    }

    /// Replies found in the shared level rather than the local file, since the cache was opened.
    public var sharedHits: Int { sharedHitCount.load(ordering: .relaxed) }

    /// Runs one database access, turning a failure or a long wait into a problem.
    private func attempt<T>(_ what: String, _ body: () async throws -> T) async -> T? {
        let start = Date()
        do {
            let value = try await body()
            let waited = Date().timeIntervalSince(start)
            if waited > max(1, lockTimeout / 2) {
                problems.add(
                    CacheProblem(
                        kind: .slowLock, message: "waited \(String(format: "%.1f", waited)) s to \(what) in '\(path)' (another process holds its lock)"))
            }
            return value
        } catch is CancellationError {
            // The query no longer wants the reply; nothing went wrong with the cache.
        } catch let error as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED].contains(error.resultCode) {
            problems.add(
                CacheProblem(
                    kind: .lockTimeout,
                    message: "could not \(what) in '\(path)': another process held its lock for \(String(format: "%.0f", lockTimeout)) s; carried on without it"
                ))
        } catch {
            problems.add(CacheProblem(kind: .failed, message: "could not \(what) in '\(path)': \(error); carried on without it"))
        }
        return nil
    }

    /// Every problem so far by kind, for a summary at the end of a run.
    public func problemCounts() -> [CacheProblem.Kind: Int] { problems.counts() }

    /// Entries stored, for reports and tests.
    public func count() -> Int {
        guard let database else { return 0 }
        return ((try? database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM responses") }) ?? nil) ?? 0
    }
}

/// Problems counted by kind; the first few of each go to the reporter.
private final class ProblemLog: Sendable {
    private let byKind = Mutex([CacheProblem.Kind: Int]())
    private let report: @Sendable (CacheProblem) -> Void
    static let reportedPerKind = 3

    init(report: @escaping @Sendable (CacheProblem) -> Void) { self.report = report }

    func add(_ problem: CacheProblem) {
        let count = byKind.withLock {
            $0[problem.kind, default: 0] += 1
            return $0[problem.kind]!
        }
        guard count <= Self.reportedPerKind else { return }
        var shown = problem
        if count == Self.reportedPerKind { shown.message += " (more of this kind are counted, not shown)" }
        report(shown)
    }

    func counts() -> [CacheProblem.Kind: Int] { byKind.withLock { $0 } }
}

/// SHA-256 as lowercase hex: cache keys, pipeline and dataset hashes.
package enum ContentHash {
    private static let digits = Array("0123456789abcdef".utf8)

    package static func sha256(_ data: Data) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for byte in SHA256.hash(data: data) {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    package static func sha256(_ text: String) -> String { sha256(Data(text.utf8)) }
}
