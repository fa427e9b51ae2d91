import Foundation
import GRDB
import StrataCache
import StrataSpace

/// The study store in a SQLite file (GRDB, WAL): one row per trial, written
/// as each finishes, so `kill -9` loses at most the trials in flight.
public final class SQLiteStudyStore: StudyStore {
    private let database: DatabasePool

    /// Opens (creating if needed) the store at `path`; several searches may share one file.
    public init(path: String) throws {
        database = try SQLiteFile.openPool(at: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE studies (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        space_path TEXT NOT NULL,
                        settings TEXT NOT NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE trials (
                        study_id TEXT NOT NULL REFERENCES studies(id),
                        identity TEXT NOT NULL,
                        number INTEGER NOT NULL,
                        configuration TEXT NOT NULL,
                        phase TEXT NOT NULL,
                        fidelity INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        score REAL,
                        objective REAL,
                        outcome TEXT,
                        error TEXT,
                        static_calls INTEGER NOT NULL,
                        static_usd REAL NOT NULL,
                        finished_at REAL NOT NULL,
                        PRIMARY KEY (study_id, identity)
                    );
                    """)
        }
        try migrator.migrate(database)
    }

    /// Registers the study, keeping the trials it already has.
    public func open(_ study: StudyDescriptor) async throws {
        try await database.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO studies (id, name, space_path, settings, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [study.id, study.name, study.spacePath, study.settings, Date().timeIntervalSince1970])
        }
    }

    /// The study's finished trials, in the order they finished.
    public func trials(study: String) async throws -> [TrialRecord] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM trials WHERE study_id = ? ORDER BY number", arguments: [study]).map(Self.trial(from:))
        }
    }

    /// A row of the `trials` table as the trial it records (shared with the studio, which reads the file read-only).
    package static func trial(from row: Row) throws -> TrialRecord {
        let configuration: String = row["configuration"]
        let outcome: String? = row["outcome"]
        return TrialRecord(
            number: row["number"],
            configuration: try JSONDecoder().decode(Configuration.self, from: Data(configuration.utf8)),
            phase: TrialPhase(rawValue: row["phase"]) ?? .dev, fidelity: row["fidelity"],
            status: TrialStatus(rawValue: row["status"]) ?? .failed,
            outcome: try outcome.map { try JSONDecoder().decode(TrialOutcome.self, from: Data($0.utf8)) },
            error: row["error"], objective: row["objective"], staticCalls: row["static_calls"], staticUSD: row["static_usd"],
            finishedAt: Date(timeIntervalSince1970: row["finished_at"]))
    }

    /// Records a finished trial, replacing an earlier record of the same trial.
    public func record(_ trial: TrialRecord, study: String) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let configuration = String(decoding: try encoder.encode(trial.configuration), as: UTF8.self)
        let outcome = try trial.outcome.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO trials (study_id, identity, number, configuration, phase, fidelity, status, score, objective, outcome, error,
                                                   static_calls, static_usd, finished_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    study, trial.identity, trial.number, configuration, trial.phase.rawValue, trial.fidelity, trial.status.rawValue,
                    trial.outcome?.score, trial.objective, outcome, trial.error, trial.staticCalls, trial.staticUSD,
                    trial.finishedAt.timeIntervalSince1970,
                ])
        }
    }
}
