import Foundation
import PostgresNIO
import StrataEval
import StrataSearch
import StrataSpace

/// The study store in PostgreSQL, shared by every worker started on it:
/// trials are proposed under the study's advisory lock, leased with
/// `FOR UPDATE SKIP LOCKED` and an expiry the database's clock judges, and
/// numbered in the order they finish.
package final class PostgresStudyStore: SharedStudyStore {
    let database: PostgresStore
    /// Leases a trial may lose before it counts as failed (a trial that kills every worker that takes it).
    let maxAttempts: Int

    package init(database: PostgresStore, maxAttempts: Int = 5) {
        self.database = database
        self.maxAttempts = maxAttempts
    }

    var logger: Logger { database.logger }

    package func open(_ study: StudyDescriptor) async throws {
        try await database.run { connection in
            try await connection.query(
                """
                INSERT INTO strata_studies (id, name, space_path, settings) VALUES (\(study.id), \(study.name), \(study.spacePath), \(study.settings))
                ON CONFLICT (id) DO NOTHING
                """, logger: self.logger)
        }
    }

    package func trials(study: String) async throws -> [TrialRecord] {
        try await database.run { connection in
            let rows = try await connection.query(
                "SELECT record FROM strata_trials WHERE study_id = \(study) AND status <> 'pending' ORDER BY number", logger: self.logger
            ).collect()
            return try rows.map { try Self.decode(TrialRecord.self, try $0.decode(String.self)) }
        }
    }

    /// A finished trial recorded by a single-process search (numbered by it).
    package func record(_ trial: TrialRecord, study: String) async throws {
        let pending = try Self.encode(PendingTrial(trial))
        let record = try Self.encode(trial)
        try await database.run { connection in
            try await connection.query(
                """
                INSERT INTO strata_trials (study_id, identity, status, number, pending, record, objective, phase, proposed_by, finished_at)
                VALUES (\(study), \(trial.identity), \(trial.status.rawValue), \(trial.number), \(pending), \(record), \(trial.objective),
                        \(trial.phase.rawValue), 'search', now())
                ON CONFLICT (study_id, identity) DO UPDATE SET status = excluded.status, number = excluded.number, record = excluded.record,
                    objective = excluded.objective, finished_at = excluded.finished_at
                """, logger: self.logger)
        }
    }

    package func register(worker: String, study: String) async throws {
        let host = ProcessInfo.processInfo.hostName
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        try await database.run { connection in
            try await connection.query(
                """
                INSERT INTO strata_workers (id, study_id, host, pid, version) VALUES (\(worker), \(study), \(host), \(pid), \(StrataPostgresVersion.text))
                ON CONFLICT (id) DO UPDATE SET study_id = excluded.study_id, last_seen_at = now()
                """, logger: self.logger)
        }
    }

    package func propose(
        study: String, worker: String, unitItems: Int?, _ decide: @escaping @Sendable (SharedStudyState) -> [PendingTrial]
    ) async throws -> SharedStudyState {
        try await database.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended('strata/propose/' || \(study), 0))", logger: self.logger)
            let proposals = try await connection.query("SELECT proposals FROM strata_studies WHERE id = \(study)", logger: self.logger).collect()
            guard let count = try proposals.first?.decode(Int.self) else { throw PostgresStoreError.corrupt("study \(study) is not in the store") }
            let rows = try await connection.query("SELECT status, pending, record FROM strata_trials WHERE study_id = \(study)", logger: self.logger)
                .collect()
            var state = SharedStudyState(finished: [], pending: [], proposals: count)
            for row in rows {
                let (status, pending, record) = try row.decode((String, String, String?).self)
                if status == "pending" {
                    state.pending.append(try Self.decode(PendingTrial.self, pending))
                } else if let record {
                    state.finished.append(try Self.decode(TrialRecord.self, record))
                }
            }
            state.finished.sort { $0.number < $1.number }
            let proposed = decide(state)
            for trial in proposed {
                let json = try Self.encode(trial)
                try await connection.query(
                    """
                    INSERT INTO strata_trials (study_id, identity, status, pending, phase, proposed_by)
                    VALUES (\(study), \(trial.identity), 'pending', \(json), \(trial.phase.rawValue), \(worker))
                    ON CONFLICT (study_id, identity) DO NOTHING
                    """, logger: self.logger)
                guard let unitItems, trial.fidelity > unitItems else {
                    try await WorkUnits.enqueue(scope: study, name: trial.identity, maxAttempts: self.maxAttempts, on: connection, logger: self.logger)
                    continue
                }
                for range in ItemRange.split(trial.fidelity, by: unitItems) {
                    try await WorkUnits.enqueue(
                        scope: study, name: trial.identity + " items \(range.lowerBound)-\(range.upperBound)", trial: trial.identity, items: range,
                        maxAttempts: self.maxAttempts, on: connection, logger: self.logger)
                }
            }
            if !proposed.isEmpty {
                try await connection.query("UPDATE strata_studies SET proposals = proposals + 1 WHERE id = \(study)", logger: self.logger)
                state.pending += proposed
                state.proposals += 1
            }
            return state
        }
    }

    package func claim(study: String, worker: String, ttl: Double) async throws -> ClaimedTrial? {
        try await database.transaction { connection in
            try await self.failAbandoned(study: study, on: connection)
            guard let unit = try await WorkUnits.claim(scope: study, worker: worker, ttl: ttl, on: connection, logger: self.logger) else { return nil }
            let trial = try await connection.query(
                "SELECT pending FROM strata_trials WHERE study_id = \(study) AND identity = \(unit.trial)", logger: self.logger
            ).collect()
            guard let pending = try trial.first?.decode(String.self) else { throw PostgresStoreError.corrupt("unit \(unit.id) has no trial") }
            return ClaimedTrial(unit: Int64(unit.id), trial: try Self.decode(PendingTrial.self, pending), items: unit.items, attempts: unit.attempts)
        }
    }

    /// Trials with a unit whose every lease expired without a result are
    /// failed, so the study can finish without them; the trial's other units
    /// go with it. In the caller's transaction.
    func failAbandoned(study: String, on connection: PostgresConnection) async throws {
        let rows = try await connection.query(
            """
            SELECT u.id, t.pending, u.attempts FROM strata_units u
              JOIN strata_trials t ON t.study_id = u.study_id AND t.identity = coalesce(u.trial, u.trial_identity)
             WHERE u.study_id = \(study) AND u.state = 'leased' AND u.lease_expires_at < now() AND u.attempts >= u.max_attempts
               AND t.status = 'pending'
             FOR UPDATE OF u SKIP LOCKED
            """, logger: self.logger
        ).collect()
        for row in rows {
            let (unit, pendingJSON, attempts) = try row.decode((Int, String, Int).self)
            let pending = try Self.decode(PendingTrial.self, pendingJSON)
            var record = TrialRecord(
                number: 0, configuration: pending.configuration, phase: pending.phase, fidelity: pending.fidelity, status: .failed,
                outcome: nil, error: "abandoned: \(attempts) workers took it and none finished it", objective: nil,
                staticCalls: pending.staticCalls, staticUSD: pending.staticUSD)
            try await connection.query("UPDATE strata_units SET state = 'dead' WHERE id = \(unit)", logger: self.logger)
            try await connection.query(
                """
                UPDATE strata_units SET state = 'dead' WHERE study_id = \(study) AND coalesce(trial, trial_identity) = \(pending.identity)
                   AND state IN ('queued', 'leased')
                """, logger: self.logger)
            try await self.finish(record: &record, study: study, on: connection)
        }
    }

    package func renew(_ claim: ClaimedTrial, worker: String, ttl: Double) async throws -> Bool {
        try await database.run { connection in
            let kept = try await WorkUnits.renew(claim.unit, worker: worker, ttl: ttl, on: connection, logger: self.logger)
            try await connection.query("UPDATE strata_workers SET last_seen_at = now() WHERE id = \(worker)", logger: self.logger)
            return kept
        }
    }

    package func release(_ claim: ClaimedTrial, worker: String) async throws {
        try await database.run { connection in
            try await connection.query(
                """
                UPDATE strata_units SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, attempts = greatest(attempts - 1, 0)
                 WHERE id = \(Int(claim.unit)) AND lease_owner = \(worker) AND state = 'leased'
                """, logger: self.logger)
        }
    }

    package func complete(
        _ claim: ClaimedTrial, part: TrialPart, worker: String, study: String, compose: @escaping @Sendable ([TrialPart]) -> TrialRecord
    ) async throws -> UnitCompletion {
        let partJSON = try Self.encode(part)
        return try await database.transaction { connection in
            // The trial's row lock serializes its units' finishers; the unit's owner check fences a worker whose lease was taken over.
            try await connection.query(
                "SELECT status FROM strata_trials WHERE study_id = \(study) AND identity = \(claim.trial.identity) FOR UPDATE", logger: self.logger)
            guard try await WorkUnits.finish(claim.unit, worker: worker, on: connection, logger: self.logger) else { return .lost }
            try await connection.query("UPDATE strata_units SET part = \(partJSON) WHERE id = \(Int(claim.unit))", logger: self.logger)
            let units = try await connection.query(
                """
                SELECT state, part FROM strata_units WHERE study_id = \(study) AND coalesce(trial, trial_identity) = \(claim.trial.identity)
                 ORDER BY coalesce(item_lo, 0)
                """, logger: self.logger
            ).collect()
            var parts: [TrialPart] = []
            for unit in units {
                let (state, json) = try unit.decode((String, String?).self)
                guard state == "done", let json else { return .waiting }
                parts.append(try Self.decode(TrialPart.self, json))
            }
            var record = compose(parts)
            try await self.finish(record: &record, study: study, on: connection)
            return .recorded(record)
        }
    }

    /// Numbers a finished trial and stores it, inside the caller's transaction.
    func finish(record: inout TrialRecord, study: String, on connection: PostgresConnection) async throws {
        let numbers = try await connection.query(
            "UPDATE strata_studies SET next_number = next_number + 1 WHERE id = \(study) RETURNING next_number - 1", logger: logger
        ).collect()
        guard let number = try numbers.first?.decode(Int.self) else { throw PostgresStoreError.corrupt("study \(study) is not in the store") }
        record.number = number
        let json = try Self.encode(record)
        try await connection.query(
            """
            UPDATE strata_trials SET status = \(record.status.rawValue), number = \(number), record = \(json), objective = \(record.objective),
                   finished_at = now()
             WHERE study_id = \(study) AND identity = \(record.identity) AND status = 'pending'
            """, logger: logger)
    }

    package func addSpend(study: String, calls: Int, usd: Double) async throws -> (calls: Int, usd: Double, stopReason: String?) {
        try await database.run { connection in
            let rows = try await connection.query(
                """
                UPDATE strata_studies SET issued_calls = issued_calls + \(calls), usd = usd + \(usd) WHERE id = \(study)
                RETURNING issued_calls, usd, stop_reason
                """, logger: self.logger
            ).collect()
            guard let row = rows.first else { throw PostgresStoreError.corrupt("study \(study) is not in the store") }
            let (total, spent, reason) = try row.decode((Int, Double, String?).self)
            return (total, spent, reason)
        }
    }

    package func stop(study: String, reason: String?) async throws {
        try await database.run { connection in
            try await connection.query("UPDATE strata_studies SET stop_reason = \(reason) WHERE id = \(study)", logger: self.logger)
        }
    }

    package func status(study: String) async throws -> SharedStudyStatus? {
        try await database.run { connection in
            let studies = try await connection.query(
                "SELECT name, space_path, settings, issued_calls, usd, stop_reason FROM strata_studies WHERE id = \(study)", logger: self.logger
            ).collect()
            guard let row = studies.first else { return nil }
            let (name, spacePath, settings, calls, usd, stopReason) = try row.decode((String, String, String, Int, Double, String?).self)
            var counts: [String: Int] = [:]
            for row in try await connection.query(
                "SELECT status, count(*) FROM strata_trials WHERE study_id = \(study) GROUP BY status", logger: self.logger
            ).collect() {
                let (status, count) = try row.decode((String, Int).self)
                counts[status] = count
            }
            let leased =
                try await connection.query(
                    "SELECT count(*) FROM strata_units WHERE study_id = \(study) AND state = 'leased' AND lease_expires_at >= now()", logger: self.logger
                ).collect().first?.decode(Int.self) ?? 0
            var workers: [WorkerStatus] = []
            for row in try await connection.query(
                """
                SELECT w.id, w.host, w.pid, w.started_at, w.last_seen_at,
                       (SELECT trial_identity FROM strata_units u WHERE u.lease_owner = w.id AND u.state = 'leased' AND u.lease_expires_at >= now() LIMIT 1)
                  FROM strata_workers w WHERE w.study_id = \(study) ORDER BY w.started_at, w.id
                """, logger: self.logger
            ).collect() {
                let (id, host, pid, started, seen, trial) = try row.decode((String, String, Int, Date, Date, String?).self)
                workers.append(WorkerStatus(id: id, host: host, pid: pid, startedAt: started, lastSeenAt: seen, leased: trial))
            }
            let best = try await connection.query(
                """
                SELECT record FROM strata_trials WHERE study_id = \(study) AND status = 'complete' AND phase = 'dev' AND objective IS NOT NULL
                 ORDER BY objective DESC, number LIMIT 1
                """, logger: self.logger
            ).collect().first.map { try Self.decode(TrialRecord.self, try $0.decode(String.self)) }
            return SharedStudyStatus(
                study: StudyDescriptor(id: study, name: name, spacePath: spacePath, settings: settings), complete: counts["complete"] ?? 0,
                failed: counts["failed"] ?? 0, pending: counts["pending"] ?? 0, leased: leased, issuedCalls: calls, usd: usd,
                stopReason: stopReason, workers: workers, best: best)
        }
    }

    /// The studies in the store, newest first (for `--status` without a space).
    package func studies() async throws -> [String] {
        try await database.run { connection in
            try await connection.query("SELECT id FROM strata_studies ORDER BY created_at DESC", logger: self.logger).collect().map {
                try $0.decode(String.self)
            }
        }
    }

    static func encode<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<Value: Decodable>(_ type: Value.Type, _ text: String) throws -> Value {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(type, from: Data(text.utf8))
    }
}

/// What workers write as their version in the workers table.
enum StrataPostgresVersion {
    static let text = "strata-postgres-1"
}
