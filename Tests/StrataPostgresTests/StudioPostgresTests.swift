import Foundation
import Strata
import StrataPostgres
import StrataStudio
import StrataTestSupport
import Testing

/// The studio reading a PostgreSQL store: studies, trials, runs and items as
/// the SQLite stores give them, in read-only sessions; a database without
/// Strata's tables is refused.
@Suite(.enabled(if: TestPostgres.isUp, "no PostgreSQL test cluster (scripts/test starts one)"))
struct StudioPostgresTests {
    @Test func theStudioReadsAPostgreSQLStoreAndWritesNothing() async throws {
        let url = try await TestPostgres.freshDatabase()
        let database = try await TestPostgres.open(url)
        defer { database.close() }
        let studies = PostgresStudyStore(database: database)
        let study = StudyDescriptor(id: "pg-study", name: "shared", spacePath: "space.yaml", settings: "{}")
        try await studies.open(study)
        for number in 0..<6 {
            try await studies.record(
                TrialRecord(
                    number: number, configuration: Configuration(["samples": .int(number % 3 + 1)]), phase: .dev, fidelity: 4 + number / 3,
                    status: number == 5 ? .failed : .complete, outcome: number == 5 ? nil : TrialOutcome(score: Double(number % 3) / 2, items: 4),
                    error: number == 5 ? "every item failed" : nil, objective: number == 5 ? nil : Double(number % 3) / 2, staticCalls: number % 3 + 1,
                    staticUSD: 0),
                study: study.id)
        }
        let runs = PostgresRunStore(database: database, writer: "w1")
        let key = RunKey(pipelineHash: "p", datasetHash: "d", scorer: "exact", selection: "all")
        try await runs.begin(key, pipelinePath: "p.yaml", pipelineYAML: "strata: 1", datasetPath: "d.jsonl", items: 3)
        for item in ["q10", "q2", "q1"] {
            try await runs.record(
                ItemResult(itemID: item, answer: "a", failure: nil, score: item == "q2" ? 1 : 0, detail: nil, usage: RunUsage()), run: key.id)
        }

        let source = try await StudioSource(postgres: try PostgresLocation(url: url))
        defer { source.close() }
        let listed = try await source.studyList()
        #expect(listed.map(\.id) == ["pg-study"])
        #expect(listed.first?.trials == 6 && listed.first?.failed == 1 && listed.first?.bestObjective == 1)
        let trials = try await source.trials(study: "pg-study")
        #expect(trials.map(\.number) == Array(0..<6))
        // Only what finished after a trial's time: the live view's question.
        let last = try #require(trials.map(\.finishedAt.timeIntervalSince1970).max())
        #expect(try await source.trials(study: "pg-study", finishedAfter: last).isEmpty)
        let runList = try await source.runList()
        #expect(runList.first?.finished == 3 && abs((runList.first?.meanScore ?? 0) - 1.0 / 3) < 1e-9)
        #expect(try await source.items(run: key.id).map(\.itemID) == ["q1", "q2", "q10"])
        #expect(try await source.coverage(run: key.id) == nil)
        try await runs.recordCoverage(StoreContractTests.curve, run: key.id)
        #expect(try await source.coverage(run: key.id) == StoreContractTests.curve)

        // The studio's sessions are read-only: even a deliberate write through them fails.
        let readOnly = try await PostgresStore.openReadOnly(try PostgresLocation(url: url))
        defer { readOnly.close() }
        await #expect(throws: (any Error).self) {
            try await PostgresStudyStore(database: readOnly).open(StudyDescriptor(id: "x", name: "x", spacePath: "x", settings: "{}"))
        }
        #expect(try await source.studyList().count == 1)
    }

    @Test func aDatabaseWithoutStrataTablesIsRefused() async throws {
        let url = try await TestPostgres.freshDatabase()
        await #expect {
            _ = try await StudioSource(postgres: try PostgresLocation(url: url))
        } throws: { error in
            "\(error)".contains("is not a Strata store")
        }
    }
}
