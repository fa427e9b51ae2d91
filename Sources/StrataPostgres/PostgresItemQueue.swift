import Foundation
import PostgresNIO
import StrataEval

/// The item ranges of evaluation runs, leased by workers: the same work-unit
/// table the study store uses, one scope per run.
package final class PostgresItemQueue: SharedItemQueue {
    let database: PostgresStore
    let maxAttempts: Int

    package init(database: PostgresStore, maxAttempts: Int = 5) {
        self.database = database
        self.maxAttempts = maxAttempts
    }

    var logger: Logger { database.logger }

    static func scope(_ run: String) -> String { "run:" + run }

    package func enqueue(run: String, items: Int, unitItems: Int) async throws {
        let scope = Self.scope(run)
        try await database.transaction { connection in
            for range in ItemRange.split(items, by: unitItems) {
                try await WorkUnits.enqueue(
                    scope: scope, name: "items \(range.lowerBound)-\(range.upperBound)", items: range, maxAttempts: self.maxAttempts, on: connection,
                    logger: self.logger)
            }
        }
    }

    package func claim(run: String, worker: String, ttl: Double) async throws -> ItemRange? {
        let scope = Self.scope(run)
        return try await database.run { connection in
            guard let unit = try await WorkUnits.claim(scope: scope, worker: worker, ttl: ttl, on: connection, logger: self.logger) else { return nil }
            guard let items = unit.items else { throw PostgresStoreError.corrupt("unit \(unit.id) ('\(unit.name)') has no item range") }
            return ItemRange(unit: Int64(unit.id), lo: items.lowerBound, hi: items.upperBound)
        }
    }

    package func renew(_ range: ItemRange, run: String, worker: String, ttl: Double) async throws -> Bool {
        try await database.run { try await WorkUnits.renew(range.unit, worker: worker, ttl: ttl, on: $0, logger: self.logger) }
    }

    package func complete(_ range: ItemRange, run: String, worker: String) async throws {
        _ = try await database.run { try await WorkUnits.finish(range.unit, worker: worker, on: $0, logger: self.logger) }
    }

    package func remaining(run: String) async throws -> Int {
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
