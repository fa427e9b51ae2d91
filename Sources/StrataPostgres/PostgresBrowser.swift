import Foundation
import PostgresNIO
import StrataEval
import StrataSearch

/// What the studio reads from a PostgreSQL store (opened with
/// `PostgresStore.openReadOnly`): studies with their counts, a study's
/// finished trials, runs with their items.
package struct PostgresBrowser: Sendable {
    let database: PostgresStore

    package init(database: PostgresStore) { self.database = database }

    var logger: Logger { database.logger }

    package struct Study: Sendable {
        package var id, name, spacePath, settings: String
        package var createdAt: Double
        package var trials, failed: Int
        package var best, last: Double?
    }

    package struct Run: Sendable {
        package var id, pipelinePath, pipelineYAML, datasetPath, scorer, selection: String
        package var items, finished: Int
        package var mean: Double?
        package var createdAt: Double
    }

    package func studies() async throws -> [Study] {
        try await database.run { connection in
            try await connection.query(
                """
                SELECT s.id, s.name, s.space_path, s.settings, extract(epoch FROM s.created_at)::float8,
                       (count(t.identity) FILTER (WHERE t.status <> 'pending'))::int, (count(t.identity) FILTER (WHERE t.status = 'failed'))::int,
                       max(t.objective) FILTER (WHERE t.status = 'complete' AND t.phase = 'dev'), extract(epoch FROM max(t.finished_at))::float8
                  FROM strata_studies s LEFT JOIN strata_trials t ON t.study_id = s.id
                 GROUP BY s.id ORDER BY s.created_at DESC
                """, logger: self.logger
            ).collect().map { row in
                let (id, name, space, settings, created, trials, failed, best, last) = try row.decode(
                    (String, String, String, String, Double, Int, Int, Double?, Double?).self)
                return Study(
                    id: id, name: name, spacePath: space, settings: settings, createdAt: created, trials: trials, failed: failed, best: best, last: last)
            }
        }
    }

    /// The study's trials that finished after `since` (seconds since 1970), each with the time the
    /// database recorded it finishing, so the next `since` compares like with like.
    package func trials(study: String, finishedAfter since: Double) async throws -> [TrialRecord] {
        try await database.run { connection in
            try await connection.query(
                """
                SELECT record, extract(epoch FROM finished_at)::float8 FROM strata_trials
                 WHERE study_id = \(study) AND status <> 'pending' AND finished_at > to_timestamp(\(since)) ORDER BY number
                """, logger: self.logger
            ).collect().map { row in
                let (record, finished) = try row.decode((String, Double).self)
                var trial = try PostgresStudyStore.decode(TrialRecord.self, record)
                trial.finishedAt = Date(timeIntervalSince1970: finished)
                return trial
            }
        }
    }

    package func runs() async throws -> [Run] {
        try await database.run { connection in
            try await connection.query(
                """
                SELECT r.id, r.pipeline_path, r.pipeline_yaml, r.dataset_path, r.scorer, r.selection, r.items, count(x.item_id)::int,
                       avg(x.score)::float8, extract(epoch FROM r.created_at)::float8
                  FROM strata_runs r LEFT JOIN strata_results x ON x.run_id = r.id
                 GROUP BY r.id ORDER BY r.created_at DESC
                """, logger: self.logger
            ).collect().map { row in
                let (id, path, yaml, dataset, scorer, selection, items, finished, mean, created) = try row.decode(
                    (String, String, String, String, String, String, Int, Int, Double?, Double).self)
                return Run(
                    id: id, pipelinePath: path, pipelineYAML: yaml, datasetPath: dataset, scorer: scorer, selection: selection, items: items,
                    finished: finished, mean: mean, createdAt: created)
            }
        }
    }

    package func items(run: String) async throws -> [ItemResult] {
        try await PostgresRunStore(database: database, writer: "studio").results(run: run)
    }

    package func coverage(run: String) async throws -> CoverageCurve? {
        try await PostgresRunStore(database: database, writer: "studio").coverage(run: run)
    }
}
