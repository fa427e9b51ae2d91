import Foundation
import Strata
import StrataPostgres
import StrataTestSupport
import Testing

/// One contract for the stores, run against SQLite and PostgreSQL alike: what
/// the search and the evaluator rely on holds whichever store is behind them.
@Suite(.enabled(if: TestPostgres.isUp, "no STRATA_TEST_POSTGRES_URL: scripts/test starts a throwaway PostgreSQL"))
struct StoreContractTests {
    static func trial(_ number: Int, _ samples: Int, score: Double, phase: TrialPhase = .dev) -> TrialRecord {
        TrialRecord(
            number: number, configuration: Configuration(["samples": .int(samples)]), phase: phase, fidelity: 5, status: .complete,
            outcome: TrialOutcome(score: score, items: 5, itemScores: ["a": score], issuedCalls: 10, usd: 0.5), error: nil, objective: score,
            staticCalls: samples, staticUSD: 0.01, finishedAt: Date(timeIntervalSince1970: 1_800_000_000 + Double(number)))
    }

    func exercise(_ store: any StudyStore) async throws -> [TrialRecord] {
        let study = StudyDescriptor(id: "s1", name: "contract", spacePath: "space.yaml", settings: "{}")
        try await store.open(study)
        try await store.open(study)  // a known study is resumed, not duplicated
        try await store.record(Self.trial(1, 2, score: 0.5), study: "s1")
        try await store.record(Self.trial(0, 1, score: 0.25), study: "s1")
        try await store.record(Self.trial(2, 3, score: 0.75, phase: .holdout), study: "s1")
        // The same identity again replaces the first record.
        try await store.record(Self.trial(1, 2, score: 0.6), study: "s1")
        #expect(try await store.trials(study: "other").isEmpty)
        return try await store.trials(study: "s1")
    }

    @Test func studyStoresAgree() async throws {
        let directory = try temporaryDirectory()
        let sqlite = try await exercise(try SQLiteStudyStore(path: directory.appendingPathComponent("studies.sqlite").path))
        let database = try await TestPostgres.open(try await TestPostgres.freshDatabase())
        defer { database.close() }
        let postgres = try await exercise(PostgresStudyStore(database: database))
        #expect(sqlite.map(\.number) == [0, 1, 2])
        #expect(sqlite.map(\.objective) == [0.25, 0.6, 0.75])
        #expect(postgres == sqlite)
    }

    static let curve = try! JSONDecoder().decode(
        CoverageCurve.self,
        from: Data(
            #"""
            {"items": 2, "samples": 2, "verifiers": [], "points": [{"k": 1, "passAtK": 0.5, "majorityAtK": 0.5}, {"k": 2, "passAtK": 0.75, "majorityAtK": 0.5}]}
            """#.utf8))

    func exercise(_ store: any RunResultStore) async throws -> [ItemResult] {
        let key = RunKey(pipelineHash: "p", datasetHash: "d", scorer: "numeric", selection: "all")
        try await store.begin(key, pipelinePath: "p.yaml", pipelineYAML: "strata: 1", datasetPath: "d.jsonl", items: 3)
        try await store.begin(key, pipelinePath: "p.yaml", pipelineYAML: "strata: 1", datasetPath: "d.jsonl", items: 3)
        var usage = RunUsage()
        usage.calls = 3
        try await store.record(ItemResult(itemID: "b", answer: "4", failure: nil, score: 1, detail: nil, usage: usage), run: key.id)
        try await store.record(ItemResult(itemID: "a", answer: nil, failure: "timed out", score: 0, detail: "x", usage: usage), run: key.id)
        // First writer wins: a late duplicate (a zombie worker, a takeover) changes nothing.
        try await store.record(ItemResult(itemID: "b", answer: "5", failure: nil, score: 0, detail: nil, usage: RunUsage()), run: key.id)
        // A coverage curve: none until an evaluation keeps one, then the last one kept (a resumed run measures the whole curve again).
        #expect(try await store.coverage(run: key.id) == nil)
        var first = Self.curve
        first.items = 1
        try await store.recordCoverage(first, run: key.id)
        try await store.recordCoverage(Self.curve, run: key.id)
        #expect(try await store.coverage(run: key.id) == Self.curve)
        #expect(try await store.coverage(run: "no-such-run") == nil)
        return try await store.results(run: key.id)
    }

    @Test func runStoresAgreeAndTheFirstResultStays() async throws {
        let directory = try temporaryDirectory()
        let sqlite = try await exercise(try RunStore(path: directory.appendingPathComponent("runs.sqlite").path) as any RunResultStore)
        let database = try await TestPostgres.open(try await TestPostgres.freshDatabase())
        defer { database.close() }
        let postgres = try await exercise(PostgresRunStore(database: database, writer: "w1") as any RunResultStore)
        #expect(sqlite.map(\.itemID) == ["a", "b"])
        #expect(sqlite.map(\.answer) == [nil, "4"])
        #expect(sqlite.map(\.usage.calls) == [3, 3])
        #expect(postgres == sqlite)
    }

    @Test func simultaneousFirstStartsMigrateOnce() async throws {
        let url = try await TestPostgres.freshDatabase()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let database = try await TestPostgres.open(url)
                    database.close()
                }
            }
            try await group.waitForAll()
        }
        let database = try await TestPostgres.open(url)
        defer { database.close() }
        #expect(try await database.schemaVersion() == PostgresStore.currentSchemaVersion)
    }

    @Test func aDatabaseThatNeverAnswersIsGivenUpAfterTheOutageTolerance() async throws {
        // Takes connections and never answers, like a hung server: no error ever comes to retry on.
        let hung = try SilentListener()
        let start = Date()
        do {
            let store = try await PostgresStore.open(
                try PostgresLocation(url: "postgres://strata@127.0.0.1:\(hung.port)/strata?sslmode=disable"), outageTolerance: 1)
            store.close()
            Issue.record("a database that never answered was opened")
        } catch let error as PostgresStoreError {
            #expect("\(error)".contains("has not answered for"))
        }
        #expect(Date().timeIntervalSince(start) < 30)
    }
}
