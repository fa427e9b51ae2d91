import Foundation
import PostgresNIO

/// The work-unit table both the study store (one unit per trial) and the item
/// queue (one per range of a run's items) lease from: the claim, renewal and
/// fenced completion every worker runs, in one place.
enum WorkUnits {
    /// A leased unit: its name, and for a range of a trial's items, the trial and the range.
    struct Claimed {
        var id: Int
        var name: String
        var attempts: Int
        /// The trial's identity (the unit's name when the unit is the whole trial).
        var trial: String
        var items: Range<Int>?
    }

    /// Leases the oldest unit of `scope` that is queued, or whose lease
    /// expired, for `ttl` seconds (by the database's clock).
    static func claim(
        scope: String, worker: String, ttl: Double, on connection: PostgresConnection, logger: Logger
    ) async throws -> Claimed? {
        let rows = try await connection.query(
            """
            UPDATE strata_units u SET state = 'leased', lease_owner = \(worker), attempts = u.attempts + 1,
                   lease_expires_at = now() + make_interval(secs => \(ttl))
             WHERE u.id = (SELECT id FROM strata_units
                            WHERE study_id = \(scope) AND attempts < max_attempts
                              AND (state = 'queued' OR (state = 'leased' AND lease_expires_at < now()))
                            ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
            RETURNING u.id, u.trial_identity, u.attempts, coalesce(u.trial, u.trial_identity), u.item_lo, u.item_hi
            """, logger: logger
        ).collect()
        guard let row = rows.first else { return nil }
        let (id, name, attempts, trial, lo, hi) = try row.decode((Int, String, Int, String, Int?, Int?).self)
        let items = lo.flatMap { lo in hi.map { lo..<max(lo, $0) } }
        return Claimed(id: id, name: name, attempts: attempts, trial: trial, items: items)
    }

    /// Queues a unit named `name` in `scope` (once, however many workers ask):
    /// a whole trial, or the range `items` of `trial`'s items.
    static func enqueue(
        scope: String, name: String, trial: String? = nil, items: Range<Int>? = nil, maxAttempts: Int, on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO strata_units (study_id, trial_identity, trial, item_lo, item_hi, max_attempts)
            VALUES (\(scope), \(name), \(trial), \(items?.lowerBound), \(items?.upperBound), \(maxAttempts))
            ON CONFLICT (study_id, trial_identity) DO NOTHING
            """, logger: logger)
    }

    /// Extends a lease the worker still holds; false when another worker has the unit now.
    static func renew(_ unit: Int64, worker: String, ttl: Double, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        !(try await connection.query(
            """
            UPDATE strata_units SET lease_expires_at = now() + make_interval(secs => \(ttl))
             WHERE id = \(Int(unit)) AND lease_owner = \(worker) AND state = 'leased' RETURNING id
            """, logger: logger
        ).collect().isEmpty)
    }

    /// Marks a unit the worker still holds done; false when the lease was lost (the fence).
    static func finish(_ unit: Int64, worker: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        !(try await connection.query(
            "UPDATE strata_units SET state = 'done' WHERE id = \(Int(unit)) AND lease_owner = \(worker) AND state = 'leased' RETURNING id",
            logger: logger
        ).collect().isEmpty)
    }
}
