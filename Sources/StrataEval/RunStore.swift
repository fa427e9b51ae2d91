import Foundation
import GRDB
import StrataCache
import StrataRuntime

/// One scored item of a run.
public struct ItemResult: Sendable, Hashable, Codable {
    /// The item.
    public var itemID: String
    /// The pipeline's answer; nil when it failed.
    public var answer: String?
    /// Why it failed, when it did.
    public var failure: String?
    /// The item's score.
    public var score: Double
    /// What the scorer had to say.
    public var detail: String?
    /// What answering it cost.
    public var usage: RunUsage
    /// What every layer did, for drill-down reports.
    public var layers: [LayerReport]
    /// Every model call in time (the studio's query view and `--timeline`); empty in stores written before it was kept.
    public var timeline: [CallSpan]

    /// An item's result.
    public init(
        itemID: String, answer: String?, failure: String?, score: Double, detail: String?, usage: RunUsage, layers: [LayerReport] = [],
        timeline: [CallSpan] = []
    ) {
        self.itemID = itemID
        self.answer = answer
        self.failure = failure
        self.score = score
        self.detail = detail
        self.usage = usage
        self.layers = layers
        self.timeline = timeline
    }

    enum CodingKeys: String, CodingKey { case itemID, answer, failure, score, detail, usage, layers, timeline }

    /// Reads results written before `timeline` was kept.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        itemID = try container.decode(String.self, forKey: .itemID)
        answer = try container.decodeIfPresent(String.self, forKey: .answer)
        failure = try container.decodeIfPresent(String.self, forKey: .failure)
        score = try container.decode(Double.self, forKey: .score)
        detail = try container.decodeIfPresent(String.self, forKey: .detail)
        usage = try container.decode(RunUsage.self, forKey: .usage)
        layers = try container.decodeIfPresent([LayerReport].self, forKey: .layers) ?? []
        timeline = try container.decodeIfPresent([CallSpan].self, forKey: .timeline) ?? []
    }
}

/// Identifies a run: the same pipeline (text and includes), dataset, scorer and
/// selection is the same run, so a finished one is a cache hit and a killed one resumes.
public struct RunKey: Sendable, Hashable {
    /// The hash of the pipeline and its includes.
    public var pipelineHash: String
    /// The hash of the dataset file.
    public var datasetHash: String
    /// The scorer, as the CLI spells it.
    public var scorer: String
    /// The item selection, as text.
    public var selection: String

    /// A run's key.
    public init(pipelineHash: String, datasetHash: String, scorer: String, selection: String) {
        self.pipelineHash = pipelineHash
        self.datasetHash = datasetHash
        self.scorer = scorer
        self.selection = selection
    }

    /// The run's id: a hash of its key.
    public var id: String {
        ContentHash.sha256("\(pipelineHash)\n\(datasetHash)\n\(scorer)\n\(selection)")
    }
}

/// Where evaluation runs keep their per-item results: a SQLite file here, a
/// PostgreSQL database shared by workers on many machines (`StrataPostgres`).
/// Nothing above this protocol may assume either.
public protocol RunResultStore: Sendable {
    /// Records the run if it is new.
    func begin(_ key: RunKey, pipelinePath: String, pipelineYAML: String, datasetPath: String, items: Int) async throws
    /// Stores a finished item's result. The first result written for an item
    /// stays: a worker that took over an item another had finished, or a
    /// zombie writing late, never replaces it.
    func record(_ result: ItemResult, run: String) async throws
    /// The run's results, by item id.
    func results(run: String) async throws -> [ItemResult]
    /// Keeps the coverage curve an evaluation measured on the run's samples, for the studio; the last one written stays.
    func recordCoverage(_ curve: CoverageCurve, run: String) async throws
    /// The run's coverage curve, when an evaluation kept one.
    func coverage(run: String) async throws -> CoverageCurve?
}

/// Evaluation runs in SQLite (GRDB, WAL): the pipeline's YAML and hash, the
/// dataset's hash, and per item the answer, score, usage and latency.
public final class RunStore: RunResultStore {
    private let database: DatabasePool

    /// Opens (creating if needed) the run store at `path`.
    public init(path: String) throws {
        database = try SQLiteFile.openPool(at: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE runs (
                        id TEXT PRIMARY KEY NOT NULL,
                        pipeline_path TEXT NOT NULL,
                        pipeline_hash TEXT NOT NULL,
                        pipeline_yaml TEXT NOT NULL,
                        dataset_path TEXT NOT NULL,
                        dataset_hash TEXT NOT NULL,
                        scorer TEXT NOT NULL,
                        selection TEXT NOT NULL,
                        items INTEGER NOT NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE results (
                        run_id TEXT NOT NULL REFERENCES runs(id),
                        item_id TEXT NOT NULL,
                        answer TEXT,
                        failure TEXT,
                        score REAL NOT NULL,
                        detail TEXT,
                        usage TEXT NOT NULL,
                        layers TEXT NOT NULL,
                        finished_at REAL NOT NULL,
                        PRIMARY KEY (run_id, item_id)
                    );
                    """)
        }
        // Each item's calls in time, for the studio's query view.
        migrator.registerMigration("v2-timeline") { db in
            try db.execute(sql: "ALTER TABLE results ADD COLUMN timeline TEXT")
        }
        // The coverage curve an evaluation measured, for the studio's run view.
        migrator.registerMigration("v3-coverage") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN coverage TEXT")
        }
        try migrator.migrate(database)
    }

    // The accessors are async: GRDB runs them on its own threads, so a wait for
    // another process's lock never blocks Swift's cooperative pool.

    /// Records that a run started, with what it ran on.
    public func begin(_ key: RunKey, pipelinePath: String, pipelineYAML: String, datasetPath: String, items: Int) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO runs (id, pipeline_path, pipeline_hash, pipeline_yaml, dataset_path, dataset_hash, scorer, selection, items, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    key.id, pipelinePath, key.pipelineHash, pipelineYAML, datasetPath, key.datasetHash, key.scorer, key.selection, items,
                    Date().timeIntervalSince1970,
                ])
        }
    }

    /// A finished item is never lost: the write runs in a task of its own, so
    /// cancelling the evaluation (a search out of budget, Ctrl-C) after the
    /// item finished still records it.
    public func record(_ result: ItemResult, run: String) async throws {
        let usage = String(decoding: try JSONEncoder().encode(result.usage), as: UTF8.self)
        let layers = String(decoding: try JSONEncoder().encode(result.layers), as: UTF8.self)
        let timeline = result.timeline.isEmpty ? nil : String(decoding: try JSONEncoder().encode(result.timeline), as: UTF8.self)
        let database = database
        try await Task { try await Self.insert(result, run: run, usage: usage, layers: layers, timeline: timeline, into: database) }.value
    }

    private static func insert(
        _ result: ItemResult, run: String, usage: String, layers: String, timeline: String?, into database: DatabasePool
    ) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO results (run_id, item_id, answer, failure, score, detail, usage, layers, timeline, finished_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    run, result.itemID, result.answer, result.failure, result.score, result.detail, usage, layers, timeline,
                    Date().timeIntervalSince1970,
                ])
        }
    }

    /// Keeps the run's coverage curve (the whole curve is measured again when a run resumes, so the last one is the full one).
    public func recordCoverage(_ curve: CoverageCurve, run: String) async throws {
        let text = String(decoding: try JSONEncoder().encode(curve), as: UTF8.self)
        try await database.write { db in
            try db.execute(sql: "UPDATE runs SET coverage = ? WHERE id = ?", arguments: [text, run])
        }
    }

    /// The run's coverage curve, when an evaluation kept one.
    public func coverage(run: String) async throws -> CoverageCurve? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [run]).flatMap(Self.coverage(from:))
        }
    }

    /// A `runs` row's coverage curve; nil in stores written before it was kept (shared with the studio).
    package static func coverage(from row: Row) -> CoverageCurve? {
        guard row.hasColumn("coverage"), let text: String = row["coverage"] else { return nil }
        return try? JSONDecoder().decode(CoverageCurve.self, from: Data(text.utf8))
    }

    /// Calls asked per item (cache hits included: the pipeline's cost, not the
    /// cache's) over every item of every run of the pipeline with this hash;
    /// nil when there is none.
    package func observedCalls(pipelineHash: String) throws -> (items: Int, callsPerItem: Double)? {
        try database.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT results.usage FROM results JOIN runs ON results.run_id = runs.id WHERE runs.pipeline_hash = ?",
                arguments: [pipelineHash])
            let usages = rows.compactMap { row -> RunUsage? in
                let text: String = row["usage"]
                return try? JSONDecoder().decode(RunUsage.self, from: Data(text.utf8))
            }
            guard !usages.isEmpty else { return nil }
            let calls = usages.reduce(0) { $0 + $1.calls + $1.cacheHits }
            return (usages.count, Double(calls) / Double(usages.count))
        }
    }

    /// The results recorded for a run.
    public func results(run: String) async throws -> [ItemResult] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM results WHERE run_id = ? ORDER BY item_id", arguments: [run]).map(Self.item(from:))
        }
    }

    /// A row of the `results` table as the item it records (shared with the studio, which reads the file read-only).
    package static func item(from row: Row) -> ItemResult {
        let usageText: String = row["usage"]
        let layersText: String = row["layers"]
        let timelineText: String? = row.hasColumn("timeline") ? row["timeline"] : nil
        return ItemResult(
            itemID: row["item_id"], answer: row["answer"], failure: row["failure"], score: row["score"], detail: row["detail"],
            usage: (try? JSONDecoder().decode(RunUsage.self, from: Data(usageText.utf8))) ?? RunUsage(),
            layers: (try? JSONDecoder().decode([LayerReport].self, from: Data(layersText.utf8))) ?? [],
            timeline: timelineText.flatMap { try? JSONDecoder().decode([CallSpan].self, from: Data($0.utf8)) } ?? [])
    }
}
