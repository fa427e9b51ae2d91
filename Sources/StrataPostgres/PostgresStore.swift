import Foundation
import Logging
import NIOSSL
import PostgresNIO
import StrataCache
import StrataProviders
import Synchronization

/// A pool of connections to one PostgreSQL database, with Strata's schema
/// migrated into it. Every operation waits out a short outage (a restart, a
/// failover) instead of failing: the workers that share the database
/// reconnect and carry on, and leases decide who owns what afterwards.
package final class PostgresStore: Sendable {
    package let location: PostgresLocation
    let client: PostgresClient
    private let running: Task<Void, Never>
    /// How long an operation keeps retrying while the database is unreachable.
    let outageTolerance: Double
    /// Whether any operation has succeeded since the store was opened.
    private let answered = Atomic<Bool>(false)
    /// Hears when an operation starts waiting for the database, and when it is back.
    let onOutage: (@Sendable (String) -> Void)?
    let logger = Logger(label: "strata.postgres")

    /// Connects (lazily: the first operation opens the first connection) and migrates the schema.
    /// `onOutage` hears when the database becomes unreachable and when it answers again.
    package static func open(
        _ location: PostgresLocation, outageTolerance: Double = 120, onOutage: (@Sendable (String) -> Void)? = nil
    ) async throws -> PostgresStore {
        let database = PostgresStore(location: location, outageTolerance: outageTolerance, onOutage: onOutage)
        do {
            try await database.migrate()
        } catch {
            database.close()
            throw error
        }
        return database
    }

    /// Connects to a database a search or an eval wrote, to read it only: nothing is migrated, and every
    /// session is read-only (`default_transaction_read_only`), so no statement can write. A database
    /// without Strata's tables is refused.
    package static func openReadOnly(_ location: PostgresLocation, outageTolerance: Double = 10) async throws -> PostgresStore {
        let database = PostgresStore(location: location, outageTolerance: outageTolerance, onOutage: nil, readOnly: true)
        let tables = try await database.run { connection in
            try await connection.query(
                "SELECT count(*)::int FROM information_schema.tables WHERE table_name IN ('strata_meta', 'strata_studies', 'strata_runs')",
                logger: database.logger
            ).collect().first.map { try $0.decode(Int.self) } ?? 0
        }
        guard tables == 3 else {
            database.close()
            throw ReadOnlyStoreError(description: "\(location) is not a Strata store: it has no strata_meta, strata_studies and strata_runs tables")
        }
        return database
    }

    init(location: PostgresLocation, outageTolerance: Double, onOutage: (@Sendable (String) -> Void)?, readOnly: Bool = false) {
        self.location = location
        self.outageTolerance = outageTolerance
        self.onOutage = onOutage
        let tls: PostgresClient.Configuration.TLS =
            switch location.tls {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database,
            tls: tls)
        configuration.options.maximumConnections = 8
        configuration.options.connectTimeout = .seconds(5)
        // A worker paused or hung inside a transaction (holding the study's proposal lock, say)
        // must not stall every other: the server ends such a session after a minute.
        configuration.options.additionalStartupParameters = [("idle_in_transaction_session_timeout", "60s")]
        if readOnly { configuration.options.additionalStartupParameters.append(("default_transaction_read_only", "on")) }
        client = PostgresClient(configuration: configuration)
        let client = client
        running = Task { await client.run() }
    }

    /// Closes the pool. Call when the store is no longer used.
    package func close() { running.cancel() }

    /// Runs `body` on a connection, again after a connection failure until
    /// `outageTolerance` has passed; a database that does not answer at all
    /// (hung, or unreachable without an error) is given as long. Only whole
    /// operations are retried, and each is idempotent or one transaction, so
    /// a retry never doubles a write. A tolerance of 0 is one attempt that
    /// the caller bounds (the response cache's shared level).
    func run<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        guard outageTolerance > 0 else { return try await attempt(body, tolerance: 0) }
        // A database that has never answered is more likely a wrong URL or a server not started than an
        // outage: it gets a short wait, and the outage tolerance applies once it has answered.
        let everAnswered = answered.load(ordering: .relaxed)
        let tolerance = everAnswered ? outageTolerance : min(outageTolerance, Self.firstContactTolerance)
        do {
            let result = try await withDeadline(tolerance + Self.slowAnswer) { try await self.attempt(body, tolerance: tolerance) }
            answered.store(true, ordering: .relaxed)
            return result
        } catch let timeout as DeadlineExceeded {
            let hint = everAnswered ? "" : "; is the server running, and is the URL right?"
            throw PostgresStoreError.unreachable("\(location) has not answered for \(Int(timeout.seconds)) s\(hint)")
        }
    }

    /// Seconds a database that has not answered yet gets before it is given up.
    static let firstContactTolerance = 8.0

    private func attempt<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result, tolerance: Double
    ) async throws -> Result {
        let start = Date()
        var delay = 0.1
        // The pool waits for a connection without failing while the server is down: an answer
        // slower than any of Strata's queries is an outage too.
        let waited = Mutex(false)
        let watchdog = Task { [onOutage, location] in
            try? await Task.sleep(for: .seconds(Self.slowAnswer))
            if Task.isCancelled { return }
            if !waited.withLock({ $0 }) { onOutage?("waiting for \(location): no answer for \(Int(Self.slowAnswer)) s") }
            waited.withLock { $0 = true }
        }
        defer { watchdog.cancel() }
        while true {
            do {
                let result = try await client.withConnection { try await body($0) }
                if waited.withLock({ $0 }) {
                    onOutage?("\(location) answers again after \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
                }
                return result
            } catch let error where Self.isTransient(error) {
                try Task.checkCancellation()
                if !waited.withLock({ $0 }) { onOutage?("waiting for \(location): \(Self.describe(error))") }
                waited.withLock { $0 = true }
                if Date().timeIntervalSince(start) > tolerance {
                    throw PostgresStoreError.unreachable("\(location) has been unreachable for \(Int(tolerance)) s: \(Self.describe(error))")
                }
                try await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 2)
            }
        }
    }

    /// Seconds after which an operation counts as waiting for the database.
    static let slowAnswer = 2.0

    /// One transaction, retried as a whole.
    func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        let logger = logger
        return try await run { connection in
            try await connection.withTransaction(logger: logger) { try await body($0) }
        }
    }

    /// Connection trouble rather than a wrong query: the database restarting, refusing, or gone for a moment.
    static func isTransient(_ error: any Error) -> Bool {
        if let transaction = error as? PostgresTransactionError {
            return [transaction.beginError, transaction.closureError, transaction.commitError].contains { $0.map(isTransient) ?? false }
        }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed: return true
        case .server:
            // Class 08 (connection exception) and 57P (the server shutting down or starting up).
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P")
        default: return false
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
        }
        return "\(error)"
    }

    /// Creates or upgrades Strata's tables, once, however many workers start at the same moment.
    func migrate() async throws {
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext('strata/migrate'))", logger: self.logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS strata_meta (key text PRIMARY KEY, value text NOT NULL)", logger: self.logger)
            let rows = try await connection.query("SELECT value FROM strata_meta WHERE key = 'schema_version'", logger: self.logger).collect()
            let version = try rows.first.map { Int(try $0.decode(String.self)) ?? 0 } ?? 0
            guard version < Self.schema.count else { return }
            for statement in Self.schema[version...].flatMap({ $0 }) {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
            }
            let now = String(Self.schema.count)
            try await connection.query(
                """
                INSERT INTO strata_meta (key, value) VALUES ('schema_version', \(now))
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, logger: self.logger)
        }
    }

    /// How many migrations the database has applied.
    package func schemaVersion() async throws -> Int {
        try await run { connection in
            let rows = try await connection.query("SELECT value FROM strata_meta WHERE key = 'schema_version'", logger: self.logger).collect()
            return try rows.first.map { Int(try $0.decode(String.self)) ?? 0 } ?? 0
        }
    }

    /// The schema this build writes.
    package static var currentSchemaVersion: Int { schema.count }

    /// Migrations in order; the database records how many it has applied.
    static let schema: [[String]] = [
        [
            """
            CREATE TABLE strata_studies (
                id text PRIMARY KEY, name text NOT NULL, space_path text NOT NULL, settings text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                next_number int NOT NULL DEFAULT 0, proposals bigint NOT NULL DEFAULT 0,
                issued_calls bigint NOT NULL DEFAULT 0, usd double precision NOT NULL DEFAULT 0, stop_reason text)
            """,
            """
            CREATE TABLE strata_trials (
                study_id text NOT NULL REFERENCES strata_studies(id), identity text NOT NULL,
                status text NOT NULL CHECK (status IN ('pending', 'complete', 'failed')), number int,
                pending text NOT NULL, record text, objective double precision, phase text NOT NULL,
                proposed_by text NOT NULL, proposed_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz,
                PRIMARY KEY (study_id, identity))
            """,
            "CREATE UNIQUE INDEX strata_trials_number ON strata_trials (study_id, number) WHERE number IS NOT NULL",
            """
            CREATE TABLE strata_units (
                id bigserial PRIMARY KEY, study_id text NOT NULL, trial_identity text NOT NULL,
                state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'leased', 'done', 'dead')),
                lease_owner text, lease_expires_at timestamptz,
                attempts int NOT NULL DEFAULT 0, max_attempts int NOT NULL DEFAULT 5,
                UNIQUE (study_id, trial_identity))
            """,
            "CREATE INDEX strata_units_ready ON strata_units (study_id, id) WHERE state IN ('queued', 'leased')",
            """
            CREATE TABLE strata_workers (
                id text PRIMARY KEY, study_id text, host text NOT NULL, pid int NOT NULL, version text NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(), last_seen_at timestamptz NOT NULL DEFAULT now())
            """,
            """
            CREATE TABLE strata_runs (
                id text PRIMARY KEY, pipeline_path text NOT NULL, pipeline_hash text NOT NULL, pipeline_yaml text NOT NULL,
                dataset_path text NOT NULL, dataset_hash text NOT NULL, scorer text NOT NULL, selection text NOT NULL,
                items int NOT NULL, created_at timestamptz NOT NULL DEFAULT now())
            """,
            """
            CREATE TABLE strata_results (
                run_id text NOT NULL REFERENCES strata_runs(id), item_id text NOT NULL, answer text, failure text,
                score double precision NOT NULL, detail text, usage text NOT NULL, layers text NOT NULL, writer text NOT NULL,
                finished_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, item_id))
            """,
        ],
        [
            // The response cache's shared level: the same keys as each machine's SQLite file.
            "CREATE TABLE strata_responses (key text PRIMARY KEY, response text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        ],
        [
            // A trial split among workers: a unit per range of its items, each keeping what it measured until the last is done.
            "ALTER TABLE strata_units ADD COLUMN trial text, ADD COLUMN item_lo int, ADD COLUMN item_hi int, ADD COLUMN part text",
            // An eval's ranges were named 'items LO-HI' before they had columns.
            """
            UPDATE strata_units SET item_lo = substring(trial_identity from '^items (\\d+)-')::int,
                   item_hi = substring(trial_identity from '^items \\d+-(\\d+)$')::int
             WHERE study_id LIKE 'run:%' AND trial_identity ~ '^items \\d+-\\d+$'
            """,
            "CREATE INDEX strata_units_trial ON strata_units (study_id, (coalesce(trial, trial_identity)))",
        ],
        // Each item's calls in time, for the studio's query view.
        ["ALTER TABLE strata_results ADD COLUMN timeline text"],
        // The coverage curve an evaluation measured, for the studio's run view.
        ["ALTER TABLE strata_runs ADD COLUMN coverage text"],
    ]
}

/// Why a store cannot be read.
package struct ReadOnlyStoreError: Error, CustomStringConvertible {
    package var description: String
}
