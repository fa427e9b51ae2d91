import Foundation
import GRDB
import StrataEval
import StrataPostgres
import StrataSearch
import Synchronization

/// Why a store cannot be shown. Said before the server starts.
package struct StudioSourceError: Error, CustomStringConvertible {
    package var description: String
}

/// A study as the studio lists it.
package struct StudySummary: Sendable, Codable, Hashable {
    package var id: String
    package var name: String
    package var spacePath: String
    package var settings: String
    package var createdAt: Double
    package var trials: Int
    package var failed: Int
    /// The best objective among complete development trials.
    package var bestObjective: Double?
    /// When the last trial finished (seconds since 1970): a study still written to moves it.
    package var lastFinishedAt: Double?
}

/// An evaluation run as the studio lists it.
package struct RunSummary: Sendable, Codable, Hashable {
    package var id: String
    package var pipelinePath: String
    package var pipelineYAML: String
    package var datasetPath: String
    package var scorer: String
    package var selection: String
    /// Items the run was asked to score.
    package var items: Int
    /// Items finished so far.
    package var finished: Int
    package var meanScore: Double?
    package var createdAt: Double
}

/// What the studio reads: a study store and a run store, SQLite files opened
/// read-only, or a PostgreSQL database in read-only sessions (nothing the
/// studio does can write to them). Either SQLite file may be absent; one
/// file holding both kinds of tables is read as both.
package final class StudioSource: Sendable {
    private let studies: DatabaseQueue?
    private let runs: DatabaseQueue?
    /// A PostgreSQL store: both studies and runs.
    private let shared: PostgresBrowser?
    private let database: PostgresStore?
    /// The files, as given, for the page's header.
    package let studyPath: String?
    package let runPath: String?
    /// Trials already decoded, by study and identity, with when each finished: a row's JSON is decoded
    /// again only when the row changed. Decoding was most of the time a 10,000-trial study took to open.
    private let decoded = Mutex([String: [String: (finishedAt: Double, trial: TrialRecord)]]())

    /// Opens the files; a file that is not a Strata store of either kind is refused.
    package init(studyStore: String?, runStore: String?) throws {
        var studies: DatabaseQueue?, runs: DatabaseQueue?
        for path in Set([studyStore, runStore].compactMap { $0 }) {
            let database = try Self.openReadOnly(path)
            let tables = try database.read { db in Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")) }
            let isStudyStore = tables.isSuperset(of: ["studies", "trials"]), isRunStore = tables.isSuperset(of: ["runs", "results"])
            guard isStudyStore || isRunStore else {
                throw StudioSourceError(
                    description:
                        "\(path) is not a Strata store: it has neither a study store's tables (studies, trials) nor a run store's (runs, results)")
            }
            if isStudyStore { studies = database }
            if isRunStore { runs = database }
        }
        self.studies = studies
        self.runs = runs
        self.studyPath = studies == nil ? nil : studyStore
        self.runPath = runs == nil ? nil : runStore
        shared = nil
        database = nil
    }

    /// A PostgreSQL store a search or an eval wrote, read in read-only sessions.
    package init(postgres location: PostgresLocation) async throws {
        let database = try await PostgresStore.openReadOnly(location)
        self.database = database
        shared = PostgresBrowser(database: database)
        studies = nil
        runs = nil
        studyPath = location.description
        runPath = location.description
    }

    /// Closes a PostgreSQL store's connections.
    package func close() { database?.close() }

    private static func openReadOnly(_ path: String) throws -> DatabaseQueue {
        guard FileManager.default.fileExists(atPath: path) else { throw StudioSourceError(description: "\(path): no such file") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw StudioSourceError(description: "\(path): not readable") }
        var configuration = Configuration()
        configuration.readonly = true
        // A search writing the file meanwhile holds its lock for moments at a time.
        configuration.busyMode = .timeout(10)
        do {
            let database = try DatabaseQueue(path: path, configuration: configuration)
            _ = try database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
            return database
        } catch let error as DatabaseError {
            throw StudioSourceError(description: "\(path) is not a SQLite database the studio can read (\(error.message ?? "\(error.resultCode)"))")
        }
    }

    // MARK: Studies

    package func studyList() async throws -> [StudySummary] {
        if let shared {
            return try await shared.studies().map {
                StudySummary(
                    id: $0.id, name: $0.name, spacePath: $0.spacePath, settings: $0.settings, createdAt: $0.createdAt, trials: $0.trials,
                    failed: $0.failed, bestObjective: $0.best, lastFinishedAt: $0.last)
            }
        }
        guard let studies else { return [] }
        return try await studies.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT s.id, s.name, s.space_path, s.settings, s.created_at,
                           count(t.identity) AS trials, sum(t.status = 'failed') AS failed,
                           max(CASE WHEN t.status = 'complete' AND t.phase = 'dev' THEN t.objective END) AS best,
                           max(t.finished_at) AS last
                      FROM studies s LEFT JOIN trials t ON t.study_id = s.id
                     GROUP BY s.id ORDER BY s.created_at DESC
                    """
            ).map { row in
                StudySummary(
                    id: row["id"], name: row["name"], spacePath: row["space_path"], settings: row["settings"], createdAt: row["created_at"],
                    trials: row["trials"], failed: row["failed"] ?? 0, bestObjective: row["best"], lastFinishedAt: row["last"])
            }
        }
    }

    package func study(_ id: String) async throws -> StudySummary? {
        try await studyList().first { $0.id == id }
    }

    /// The study's trials that finished after `since` (seconds since 1970), in order of number.
    package func trials(study: String, finishedAfter since: Double = -1) async throws -> [TrialRecord] {
        if let shared { return try await shared.trials(study: study, finishedAfter: since) }
        guard let studies else { return [] }
        let known = decoded.withLock { $0[study] ?? [:] }
        let (trials, fresh) = try await studies.read { db in
            var trials: [TrialRecord] = [], fresh: [String: (finishedAt: Double, trial: TrialRecord)] = [:]
            let rows = try Row.fetchCursor(
                db, sql: "SELECT * FROM trials WHERE study_id = ? AND finished_at > ? ORDER BY number", arguments: [study, since])
            while let row = try rows.next() {
                let identity: String = row["identity"], finishedAt: Double = row["finished_at"]
                if let cached = known[identity], cached.finishedAt == finishedAt {
                    trials.append(cached.trial)
                } else {
                    let trial = try SQLiteStudyStore.trial(from: row)
                    trials.append(trial)
                    fresh[identity] = (finishedAt, trial)
                }
            }
            return (trials, fresh)
        }
        if !fresh.isEmpty { decoded.withLock { $0[study, default: [:]].merge(fresh) { _, new in new } } }
        return trials
    }

    /// Decodes every study's trials once, so the first page to open one does not wait for it.
    package func warm() async {
        for study in (try? await studyList()) ?? [] { _ = try? await trials(study: study.id) }
    }

    // MARK: Runs

    package func runList() async throws -> [RunSummary] {
        if let shared {
            return try await shared.runs().map {
                RunSummary(
                    id: $0.id, pipelinePath: $0.pipelinePath, pipelineYAML: $0.pipelineYAML, datasetPath: $0.datasetPath, scorer: $0.scorer,
                    selection: $0.selection, items: $0.items, finished: $0.finished, meanScore: $0.mean, createdAt: $0.createdAt)
            }
        }
        guard let runs else { return [] }
        return try await runs.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT r.*, count(x.item_id) AS finished, avg(x.score) AS mean
                      FROM runs r LEFT JOIN results x ON x.run_id = r.id
                     GROUP BY r.id ORDER BY r.created_at DESC
                    """
            ).map { row in
                RunSummary(
                    id: row["id"], pipelinePath: row["pipeline_path"], pipelineYAML: row["pipeline_yaml"], datasetPath: row["dataset_path"],
                    scorer: row["scorer"], selection: row["selection"], items: row["items"], finished: row["finished"], meanScore: row["mean"],
                    createdAt: row["created_at"])
            }
        }
    }

    package func run(_ id: String) async throws -> RunSummary? {
        try await runList().first { $0.id == id }
    }

    /// The run's items, in natural order (q2 before q10).
    package func items(run: String) async throws -> [ItemResult] {
        let items: [ItemResult]
        if let shared {
            items = try await shared.items(run: run)
        } else if let runs {
            items = try await runs.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM results WHERE run_id = ?", arguments: [run]).map(RunStore.item(from:))
            }
        } else {
            return []
        }
        return items.sorted { NaturalOrder.precedes($0.itemID, $1.itemID) }
    }

    /// The coverage curve the run's evaluation kept, if any (searches and older stores keep none).
    package func coverage(run: String) async throws -> CoverageCurve? {
        if let shared { return try await shared.coverage(run: run) }
        guard let runs else { return nil }
        return try await runs.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [run]).flatMap(RunStore.coverage(from:))
        }
    }
}
