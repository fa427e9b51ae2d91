import Foundation
import PostgresNIO
import StrataEval
import StrataRuntime

/// Per-item results in PostgreSQL, shared by workers: the first result
/// written for an item stays, so a worker that takes over a trial skips the
/// items another finished, and a zombie's late write changes nothing.
package final class PostgresRunStore: RunResultStore {
    let database: PostgresStore
    /// Written beside each result: which worker finished the item.
    let writer: String

    package init(database: PostgresStore, writer: String) {
        self.database = database
        self.writer = writer
    }

    var logger: Logger { database.logger }

    package func begin(_ key: RunKey, pipelinePath: String, pipelineYAML: String, datasetPath: String, items: Int) async throws {
        try await database.run { connection in
            try await connection.query(
                """
                INSERT INTO strata_runs (id, pipeline_path, pipeline_hash, pipeline_yaml, dataset_path, dataset_hash, scorer, selection, items)
                VALUES (\(key.id), \(pipelinePath), \(key.pipelineHash), \(pipelineYAML), \(datasetPath), \(key.datasetHash), \(key.scorer),
                        \(key.selection), \(items))
                ON CONFLICT (id) DO NOTHING
                """, logger: self.logger)
        }
    }

    package func record(_ result: ItemResult, run: String) async throws {
        let usage = String(decoding: try JSONEncoder().encode(result.usage), as: UTF8.self)
        let layers = String(decoding: try JSONEncoder().encode(result.layers), as: UTF8.self)
        let timeline = result.timeline.isEmpty ? nil : String(decoding: try JSONEncoder().encode(result.timeline), as: UTF8.self)
        let writer = writer
        // Its own task: cancelling the evaluation after the item finished still records it.
        try await Task { [database, logger] in
            try await database.run { connection in
                try await connection.query(
                    """
                    INSERT INTO strata_results (run_id, item_id, answer, failure, score, detail, usage, layers, timeline, writer)
                    VALUES (\(run), \(result.itemID), \(result.answer), \(result.failure), \(result.score), \(result.detail), \(usage), \(layers),
                            \(timeline), \(writer))
                    ON CONFLICT (run_id, item_id) DO NOTHING
                    """, logger: logger)
            }
        }.value
    }

    package func results(run: String) async throws -> [ItemResult] {
        try await database.run { connection in
            let rows = try await connection.query(
                "SELECT item_id, answer, failure, score, detail, usage, layers, timeline FROM strata_results WHERE run_id = \(run) ORDER BY item_id",
                logger: self.logger
            ).collect()
            return try rows.map { row in
                let (item, answer, failure, score, detail, usage, layers, timeline) = try row.decode(
                    (String, String?, String?, Double, String?, String, String, String?).self)
                return ItemResult(
                    itemID: item, answer: answer, failure: failure, score: score, detail: detail,
                    usage: (try? JSONDecoder().decode(RunUsage.self, from: Data(usage.utf8))) ?? RunUsage(),
                    layers: (try? JSONDecoder().decode([LayerReport].self, from: Data(layers.utf8))) ?? [],
                    timeline: timeline.flatMap { try? JSONDecoder().decode([CallSpan].self, from: Data($0.utf8)) } ?? [])
            }
        }
    }

    package func recordCoverage(_ curve: CoverageCurve, run: String) async throws {
        let text = String(decoding: try JSONEncoder().encode(curve), as: UTF8.self)
        try await database.run { connection in
            try await connection.query("UPDATE strata_runs SET coverage = \(text) WHERE id = \(run)", logger: self.logger)
        }
    }

    package func coverage(run: String) async throws -> CoverageCurve? {
        try await database.run { connection in
            // Through to_jsonb, a database from before the column existed (the studio migrates nothing) reads as no curve.
            let rows = try await connection.query(
                "SELECT to_jsonb(r) ->> 'coverage' FROM strata_runs r WHERE id = \(run)", logger: self.logger
            ).collect()
            guard let text = try rows.first?.decode(String?.self) else { return nil }
            return try? JSONDecoder().decode(CoverageCurve.self, from: Data(text.utf8))
        }
    }
}
