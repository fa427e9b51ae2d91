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
            guard let unit = try await WorkUnits.claim(scope: scope, worker: worker, ttl: ttl, on: connection, logger: self.logger) else { return nil }
            let bounds = unit.name.dropFirst("items ".count).split(separator: "-").compactMap { Int($0) }
            guard bounds.count == 2 else { throw PostgresStoreError.corrupt("unit \(unit.id) names no item range: '\(unit.name)'") }
            return ItemRange(unit: Int64(unit.id), lo: bounds[0], hi: bounds[1])
        }
    }

    public func renew(_ range: ItemRange, run: String, worker: String, ttl: Double) async throws -> Bool {
        try await database.run { try await WorkUnits.renew(range.unit, worker: worker, ttl: ttl, on: $0, logger: self.logger) }
    }

    public func complete(_ range: ItemRange, run: String, worker: String) async throws {
        _ = try await database.run { try await WorkUnits.finish(range.unit, worker: worker, on: $0, logger: self.logger) }
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
