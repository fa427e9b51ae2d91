import Foundation
import PostgresNIO
import StrataCache
import Synchronization

/// The response cache's level shared between machines, in PostgreSQL.
/// Unlike the study and run stores it does not wait out an outage: each
/// access is one attempt, and `ResponseCache` bounds how long it waits, so a
/// database that is down or hung costs a miss, never a failed call.
package final class PostgresResponseTier: SharedResponseTier {
    let database: PostgresStore
    /// A pool of its own, which `close()` closes; a store's pool is the store's to close.
    private let ownsPool: Bool
    /// Whether the table is known to be there; a tier with a pool of its own creates it on first use.
    private let migrated: Atomic<Bool>

    /// The shared level in the database of an opened (so migrated) store.
    package init(database: PostgresStore) {
        self.database = database
        ownsPool = false
        migrated = Atomic(true)
    }

    /// A shared level with a connection pool of its own, for a cache in a
    /// database no store of this process uses. Connects on first use, within
    /// the cache's deadline, so a database that is down delays nothing.
    package init(location: PostgresLocation) {
        database = PostgresStore(location: location, outageTolerance: 0, onOutage: nil)
        ownsPool = true
        migrated = Atomic(false)
    }

    package func close() { if ownsPool { database.close() } }

    package var location: String { database.location.description }

    package func lookup(_ key: String) async throws -> Data? {
        try await prepare()
        return try await database.client.withConnection { connection in
            let rows = try await connection.query("SELECT response FROM strata_responses WHERE key = \(key)", logger: self.database.logger).collect()
            return try rows.first.map { Data(try $0.decode(String.self).utf8) }
        }
    }

    package func store(_ response: Data, for key: String) async throws {
        let text = String(decoding: response, as: UTF8.self)
        try await prepare()
        try await database.client.withConnection { connection in
            try await connection.query(
                "INSERT INTO strata_responses (key, response) VALUES (\(key), \(text)) ON CONFLICT (key) DO NOTHING", logger: self.database.logger)
        }
    }

    private func prepare() async throws {
        guard !migrated.load(ordering: .acquiring) else { return }
        try await database.migrate()
        migrated.store(true, ordering: .releasing)
    }
}
