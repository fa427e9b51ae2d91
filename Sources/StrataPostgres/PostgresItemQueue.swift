import Foundation
import PostgresNIO
import StrataEval

/// The item ranges of evaluation runs, leased by workers: the same work-unit
/// table the study store uses, one scope per run.
public final class PostgresItemQueue: SharedItemQueue {
    let database: PostgresStore
    let maxAttempts: Int

    public init(database: PostgresStore, maxAttempts: Int = 5) {
        self.database = database
        self.maxAttempts = maxAttempts
    }

    var logger: Logger { database.logger }

    static func scope(_ run: String) -> String { "run:" + run }

    public func enqueue(run: String, items: Int, unitItems: Int) async throws {
        let scope = Self.scope(run)
        try await database.transaction { connection in
            for lo in stride(from: 0, to: items, by: unitItems) {
                let name = "items \(lo)-\(min(items, lo + unitItems))"
                try await connection.query(
                    """
                    INSERT INTO strata_units (study_id, trial_identity, max_attempts) VALUES (\(scope), \(name), \(self.maxAttempts))
                    ON CONFLICT (study_id, trial_identity) DO NOTHING
                    """, logger: self.logger)
            }
        }
    }

    public func claim(run: String, worker: String, ttl: Double) async throws -> ItemRange? {
        let scope = Self.scope(run)
        return try await database.run { connection in
            let rows = try await connection.query(
                """
                UPDATE strata_units u SET state = 'leased', lease_owner = \(worker), attempts = u.attempts + 1,
                       lease_expires_at = now() + make_interval(secs => \(ttl))
                 WHERE u.id = (SELECT id FROM strata_units
                                WHERE study_id = \(scope) AND attempts < max_attempts
                                  AND (state = 'queued' OR (state = 'leased' AND lease_expires_at < now()))
                                ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
                RETURNING u.id, u.trial_identity
                """, logger: self.logger
            ).collect()
            guard let row = rows.first else { return nil }
            let (unit, name) = try row.decode((Int, String).self)
            let bounds = name.dropFirst("items ".count).split(separator: "-").compactMap { Int($0) }
            guard bounds.count == 2 else { throw PostgresStoreError.corrupt("unit \(unit) names no item range: '\(name)'") }
            return ItemRange(unit: Int64(unit), lo: bounds[0], hi: bounds[1])
        }
    }

    public func renew(_ range: ItemRange, run: String, worker: String, ttl: Double) async throws -> Bool {
        try await database.run { connection in
            !(try await connection.query(
                """
                UPDATE strata_units SET lease_expires_at = now() + make_interval(secs => \(ttl))
                 WHERE id = \(Int(range.unit)) AND lease_owner = \(worker) AND state = 'leased' RETURNING id
                """, logger: self.logger
            ).collect().isEmpty)
        }
    }

    public func complete(_ range: ItemRange, run: String, worker: String) async throws {
        try await database.run { connection in
            try await connection.query(
                "UPDATE strata_units SET state = 'done' WHERE id = \(Int(range.unit)) AND lease_owner = \(worker) AND state = 'leased'",
                logger: self.logger)
        }
    }

    public func remaining(run: String) async throws -> Int {
        let scope = Self.scope(run)
        return try await database.run { connection in
            try await connection.query(
                """
                SELECT count(*) FROM strata_units
                 WHERE study_id = \(scope) AND state IN ('queued', 'leased')
                   AND NOT (attempts >= max_attempts AND lease_expires_at < now())
                """, logger: self.logger
            ).collect().first?.decode(Int.self) ?? 0
        }
    }
}
