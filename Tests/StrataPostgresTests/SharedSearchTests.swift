import Foundation
import Strata
import StrataPostgres
import StrataTestSupport
import Synchronization
import Testing

/// Scores a configuration by its axes (higher samples and tokens are better),
/// after 10–50 ms standing in for model time, and logs who evaluated what.
final class LoggingEvaluator: TrialEvaluator {
    /// `phase|items|configuration` of every evaluation, in order.
    let log = Mutex<[String]>([])
    let devItems: Int
    var dataIdentity: String { "synthetic v1" }
    var holdoutItems: Int { 2 }

    init(devItems: Int = 4) { self.devItems = devItems }

    func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, items: Int, meter: SpendMeter) async throws -> TrialOutcome {
        try await Task.sleep(for: .milliseconds(Int.random(in: 10...50)))
        log.withLock { $0.append("\(phase.rawValue)|\(items)|\(pipeline.configuration.key)") }
        guard case .int(let samples)? = pipeline.configuration["samples"], case .int(let tokens)? = pipeline.configuration["tokens"] else {
            return TrialOutcome(score: 0, items: items)
        }
        return TrialOutcome(score: Double(samples * 100 + tokens) / 1000, items: items, requestedCalls: samples, issuedCalls: samples)
    }
}

/// Workers sharing one study in PostgreSQL, in one process: each its own
/// connection pool and worker id, as separate machines would be.
@Suite(.enabled(if: TestPostgres.isUp, "no STRATA_TEST_POSTGRES_URL: scripts/test starts a throwaway PostgreSQL"))
struct SharedSearchTests {
    /// 8 × 5 = 40 configurations.
    static let plan: SearchPlan = {
        let space = SearchSpaceLoader.load(
            text: """
                strata-search: 1
                name: shared
                axes:
                  samples: [1, 2, 3, 4, 5, 6, 7, 8]
                  tokens: [16, 32, 48, 64, 80]
                pipeline:
                  models:
                    m: { provider: openai-compatible, model: t, base_url: "http://127.0.0.1:9/v1" }
                  layers:
                    - ensemble: [{ model: m, samples: $samples, max_tokens: $tokens }]
                    - vote: { extractor: numeric }
                """, path: "shared.yaml"
        ).space!
        return SearchPlan(space: space)
    }()

    func workers(
        _ count: Int, url: String, settings: SearchSettings, evaluator: LoggingEvaluator
    ) async throws -> [SearchResult] {
        try await withThrowingTaskGroup(of: SearchResult.self) { group in
            for index in 0..<count {
                group.addTask {
                    let database = try await TestPostgres.open(url)
                    defer { database.close() }
                    let search = Search(plan: Self.plan, settings: settings, evaluator: evaluator, store: PostgresStudyStore(database: database))
                    return try await search.runWorker(
                        store: PostgresStudyStore(database: database), worker: WorkerOptions(id: "w\(index)", leaseTTL: 10, heartbeat: 1, poll: 0.05))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test(arguments: [SearchAlgorithm.grid, .tpe, .greedy])
    func fourWorkersNeverRepeatATrialAndFindWhatOneFinds(_ algorithm: SearchAlgorithm) async throws {
        let settings = SearchSettings(algorithm: algorithm, seed: 3, leaders: 2)
        let single = LoggingEvaluator()
        let alone = try await workers(1, url: try await TestPostgres.freshDatabase(), settings: settings, evaluator: single)[0]
        let together = LoggingEvaluator()
        let url = try await TestPostgres.freshDatabase()
        let results = try await workers(4, url: url, settings: settings, evaluator: together)
        // Every configuration once, by exactly one worker; the leaders and the baseline held out once each.
        let log = together.log.withLock { $0 }
        #expect(log.count == Set(log).count, "a trial was evaluated twice: \(log.sorted())")
        #expect(log.filter { $0.hasPrefix("dev|") }.count == 40)
        #expect(single.log.withLock { $0 }.filter { $0.hasPrefix("dev|") }.count == 40)
        // The same study, seen whole by every worker, with the same winner as one worker alone.
        for result in results {
            #expect(result.trials.count == alone.trials.count)
            #expect(result.best?.configuration == alone.best?.configuration)
            #expect(result.best?.configuration.key == "samples=8 tokens=80")
            #expect(result.best?.holdout?.outcome?.items == 2)
        }
        #expect(Set(results.flatMap { $0.trials.map(\.number) }) == Set(0..<alone.trials.count))
        #expect(results.reduce(0) { $0 + $1.trialsRun } == alone.trials.count)
        let database = try await TestPostgres.open(url)
        defer { database.close() }
        let status = try #require(try await PostgresStudyStore(database: database).status(study: results[0].study.id))
        let workerIDs: [String] = status.workers.map { $0.id }.sorted()
        #expect(workerIDs == ["w0", "w1", "w2", "w3"])
        #expect(status.pending == 0)
        #expect(status.complete == alone.trials.count)
        let calls: Int = results[0].trials.compactMap { $0.outcome?.issuedCalls }.reduce(0, +)
        #expect(status.issuedCalls == calls)
    }

    /// One engine: the same seed and space give the same study in one process (a SQLite file) as with one
    /// PostgreSQL worker — the same trials, in the same order, with the same scores, leaders and winner.
    @Test(arguments: [
        (SearchAlgorithm.greedy, Fidelity.full), (.tpe, .halving(eta: 3, minItems: 1)), (.random, .hyperband(eta: 3, minItems: 1)),
    ])
    func oneProcessAndOnePostgresWorkerRunTheSameStudy(_ algorithm: SearchAlgorithm, _ fidelity: Fidelity) async throws {
        let settings = SearchSettings(algorithm: algorithm, seed: 11, fidelity: fidelity, limits: SearchLimits(trials: 20), leaders: 2)
        let directory = try temporaryDirectory()
        let local = try await Search(
            plan: Self.plan, settings: settings, evaluator: LoggingEvaluator(devItems: 9),
            store: try SQLiteStudyStore(path: directory.appendingPathComponent("studies.sqlite").path)
        ).run()
        let shared = try await workers(1, url: try await TestPostgres.freshDatabase(), settings: settings, evaluator: LoggingEvaluator(devItems: 9))[0]
        func trials(_ result: SearchResult) -> [String] {
            result.trials.map { "\($0.number) \($0.identity) \($0.objective ?? -1)" }
        }
        #expect(trials(local).count > 20)
        #expect(trials(local) == trials(shared))
        #expect(local.leaders.map { $0.configuration } == shared.leaders.map { $0.configuration })
        #expect(local.best?.configuration.key == "samples=8 tokens=80" || algorithm != .greedy)
    }

    /// Whether `promoted` was in the top third of the rung below (eta 3) at some moment before it finished:
    /// when it was proposed, the trials finished below were some prefix of those numbered before it.
    static func deserved(_ promoted: TrialRecord, below: [TrialRecord]) -> Bool {
        let before = below.filter { $0.number < promoted.number }.sorted { $0.number < $1.number }
        return (1...max(1, before.count)).contains { finished in
            before.prefix(finished).sorted { ($0.objective ?? 0) > ($1.objective ?? 0) }.prefix(finished / 3).contains {
                $0.configuration == promoted.configuration
            }
        }
    }

    /// Three workers on 9 items, random search with two leaders; every worker's result, and the study's dev trials.
    /// No rung trial may be evaluated twice.
    func threeWorkers(fidelity: Fidelity, seed: UInt64) async throws -> (results: [SearchResult], trials: [TrialRecord]) {
        let settings = SearchSettings(algorithm: .random, seed: seed, fidelity: fidelity, leaders: 2)
        let evaluator = LoggingEvaluator(devItems: 9)
        let results = try await workers(3, url: try await TestPostgres.freshDatabase(), settings: settings, evaluator: evaluator)
        let log = evaluator.log.withLock { $0 }
        #expect(log.count == Set(log).count, "a rung trial was evaluated twice: \(log.sorted())")
        return (results, results[0].trials.filter { $0.phase == .dev })
    }

    @Test func threeWorkersHalveAsynchronously() async throws {
        // 9 items in rungs of 1, 3 and 9; a configuration goes up a rung only from the top third of its rung.
        let (results, trials) = try await threeWorkers(fidelity: .halving(eta: 3, minItems: 1), seed: 5)
        #expect(trials.filter { $0.fidelity == 1 }.count == 40)
        #expect(trials.filter { $0.fidelity == 3 }.count >= 40 / 3)
        #expect(trials.count < 40 * 2, "halving scored too many configurations past the first rung")
        let leaders = Set(results[0].leaders.map(\.configuration))
        for promoted in trials where promoted.fidelity > 1 && !(promoted.fidelity == 9 && leaders.contains(promoted.configuration)) {
            let below = trials.filter { $0.fidelity == promoted.fidelity / 3 }
            #expect(
                Self.deserved(promoted, below: below), "\(promoted.configuration.key) reached \(promoted.fidelity) items without being in the top third below")
        }
        for result in results {
            #expect(result.best?.configuration.key == "samples=8 tokens=80")
            // The leaders are scored on the whole search split, then held out.
            #expect(result.leaders.count == 2)
            #expect(result.leaders.allSatisfy { $0.dev.fidelity == 9 && $0.holdout?.outcome?.items == 2 })
        }
    }

    @Test func threeWorkersRunHyperbandsBracketsAsynchronously() async throws {
        // Rungs of 1, 3 and 9 items; of every 13 configurations 9 start on the first rung, 3 on the second, 1 on the whole split.
        let (results, trials) = try await threeWorkers(fidelity: .hyperband(eta: 3, minItems: 1), seed: 2)
        var firstRung: [String: Int] = [:]
        for trial in trials { firstRung[trial.configuration.key] = min(firstRung[trial.configuration.key] ?? .max, trial.fidelity) }
        #expect(firstRung.count == 40)
        #expect(firstRung.values.filter { $0 == 1 }.count == 28)
        #expect(firstRung.values.filter { $0 == 3 }.count == 9)
        #expect(firstRung.values.filter { $0 == 9 }.count == 3)
        let leaders = Set(results[0].leaders.map(\.configuration))
        for promoted in trials where firstRung[promoted.configuration.key]! < promoted.fidelity {
            if promoted.fidelity == 9, leaders.contains(promoted.configuration) { continue }
            // Promoted only against its own bracket's rung below.
            let below = trials.filter { $0.fidelity == promoted.fidelity / 3 && firstRung[$0.configuration.key] == firstRung[promoted.configuration.key] }
            #expect(
                Self.deserved(promoted, below: below),
                "\(promoted.configuration.key) reached \(promoted.fidelity) items without being in the top third of its bracket")
        }
        for result in results {
            #expect(result.leaders.count == 2)
            #expect(result.leaders.allSatisfy { $0.dev.fidelity == 9 && $0.holdout?.outcome?.items == 2 })
        }
    }

    @Test func aGlobalCallLimitHoldsAcrossWorkers() async throws {
        // Each trial spends 1–8 calls; four workers stop together once 60 are spent.
        let settings = SearchSettings(algorithm: .random, seed: 1, limits: SearchLimits(calls: 60))
        let url = try await TestPostgres.freshDatabase()
        let results = try await workers(4, url: url, settings: settings, evaluator: LoggingEvaluator())
        for result in results {
            #expect(result.stopReason?.contains("call budget") == true)
        }
        // Read once every worker is done: a worker's own result is the study as it stopped.
        let database = try await TestPostgres.open(url)
        defer { database.close() }
        let store = PostgresStudyStore(database: database)
        let spent: Int = try await store.trials(study: results[0].study.id).compactMap { $0.outcome?.issuedCalls }.reduce(0, +)
        #expect(try await store.status(study: results[0].study.id)?.issuedCalls == spent)
        // Past the limit by at most the trials in flight when it was reached: one per worker.
        #expect(spent >= 60)
        #expect(spent <= 60 + 4 * 8)
    }

    /// Scores nothing for a minute, unless cancelled.
    struct Stuck: TrialEvaluator {
        var dataIdentity: String { "stuck" }
        var devItems: Int { 1 }
        var holdoutItems: Int { 0 }
        func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, items: Int, meter: SpendMeter) async throws -> TrialOutcome {
            try await Task.sleep(for: .seconds(60))
            return TrialOutcome(score: 0, items: items)
        }
    }

    @Test func cancellingAWorkerStopsItsTrialAndGivesTheLeaseBack() async throws {
        let url = try await TestPostgres.freshDatabase()
        let database = try await TestPostgres.open(url)
        defer { database.close() }
        let store = PostgresStudyStore(database: database)
        let search = Search(plan: Self.plan, settings: SearchSettings(algorithm: .grid), evaluator: Stuck(), store: store)
        let worker = Task { try await search.runWorker(store: store, worker: WorkerOptions(id: "w", leaseTTL: 30, heartbeat: 1, poll: 0.05)) }
        let leased = await eventually(within: 30) { (try? await store.status(study: search.study.id))?.leased == 1 }
        #expect(leased)
        let cancelled = Date()
        worker.cancel()
        _ = await worker.result
        #expect(Date().timeIntervalSince(cancelled) < 10, "the trial ran on after the worker was cancelled")
        // The trial is queued again for the next worker, not held until its lease runs out.
        let status = try #require(try await store.status(study: search.study.id))
        #expect(status.leased == 0)
        #expect(status.pending == 1)
    }

    @Test func anExpiredLeaseIsTakenOverAndTheZombieIsFenced() async throws {
        let url = try await TestPostgres.freshDatabase()
        let database = try await TestPostgres.open(url)
        defer { database.close() }
        let store = PostgresStudyStore(database: database)
        let study = StudyDescriptor(id: "fence", name: "fence", spacePath: "s.yaml", settings: "{}")
        try await store.open(study)
        let trial = PendingTrial(configuration: Configuration(["samples": .int(1)]), phase: .dev, fidelity: 3, staticCalls: 1, staticUSD: 0)
        _ = try await store.propose(study: "fence", worker: "a") { _ in [trial] }
        let first = try #require(try await store.claim(study: "fence", worker: "a", ttl: 0.5))
        #expect(first.attempts == 1)
        // Nobody else may take a live lease.
        #expect(try await store.claim(study: "fence", worker: "b", ttl: 0.5) == nil)
        try await Task.sleep(for: .milliseconds(800))
        let second = try #require(try await store.claim(study: "fence", worker: "b", ttl: 30))
        #expect(second.attempts == 2)
        // The first owner wakes up: its renewal fails and its result is dropped.
        #expect(try await store.renew(first, worker: "a", ttl: 30) == false)
        var record = TrialRecord(
            number: 0, configuration: trial.configuration, phase: .dev, fidelity: 3, status: .complete, outcome: TrialOutcome(score: 1, items: 3),
            error: nil, objective: 1, staticCalls: 1, staticUSD: 0)
        #expect(try await store.complete(first, record: record, worker: "a", study: "fence") == nil)
        record.objective = 0.5
        #expect(try await store.complete(second, record: record, worker: "b", study: "fence") == 0)
        let trials = try await store.trials(study: "fence")
        #expect(trials.count == 1)
        #expect(trials.first?.objective == 0.5)
    }

    @Test func aSplitTrialIsRecordedByItsLastUnit() async throws {
        let url = try await TestPostgres.freshDatabase()
        let database = try await TestPostgres.open(url)
        defer { database.close() }
        let store = PostgresStudyStore(database: database)
        try await store.open(StudyDescriptor(id: "split", name: "split", spacePath: "s.yaml", settings: "{}"))
        let trial = PendingTrial(configuration: Configuration(["samples": .int(1)]), phase: .dev, fidelity: 5, staticCalls: 1, staticUSD: 0)
        _ = try await store.propose(study: "split", worker: "a", unitItems: 2) { _ in [trial] }
        var claims: [ClaimedTrial] = []
        for worker in ["a", "b", "c"] { claims.append(try #require(try await store.claim(study: "split", worker: worker, ttl: 30))) }
        #expect(claims.map(\.items) == [0..<2, 2..<4, 4..<5])
        #expect(try await store.claim(study: "split", worker: "d", ttl: 30) == nil)
        let heard = Mutex<[TrialPart]>([])
        func finish(_ index: Int, worker: String) async throws -> UnitCompletion {
            let items = claims[index].items
            let part = TrialPart(items: items, outcome: TrialOutcome(score: Double(index), items: items.count), error: nil)
            return try await store.complete(claims[index], part: part, worker: worker, study: "split") { parts in
                heard.withLock { $0 = parts }
                return TrialRecord(
                    number: 0, configuration: trial.configuration, phase: .dev, fidelity: 5, status: .complete,
                    outcome: TrialOutcome.combining(parts.compactMap(\.outcome)), error: nil, objective: 1, staticCalls: 1, staticUSD: 0)
            }
        }
        // Out of order, and one worker that is not the unit's owner: fenced.
        guard case .waiting = try await finish(2, worker: "c") else { throw TestFailure("a unit finished before the others recorded the trial") }
        guard case .lost = try await finish(0, worker: "b") else { throw TestFailure("a unit was finished by a worker that does not hold it") }
        guard case .waiting = try await finish(0, worker: "a") else { throw TestFailure("the trial was recorded with a unit to go") }
        guard case .recorded(let record) = try await finish(1, worker: "b") else { throw TestFailure("the last unit did not record the trial") }
        #expect(heard.withLock { $0.map(\.items) } == [0..<2, 2..<4, 4..<5])
        // Items 0–1 scored 0, 2–3 scored 1, item 4 scored 2: the mean over all five.
        #expect(record.outcome?.items == 5)
        #expect(abs((record.outcome?.score ?? 0) - 0.8) < 1e-9)
        #expect(try await store.trials(study: "split").map(\.number) == [0])
    }

    /// Scores ranges of 12 items in 0.2 s each, and tracks how many ranges of one configuration ran at once.
    final class RangeEvaluator: TrialEvaluator {
        let log = Mutex<[String]>([])
        let running = Mutex<(now: [String: Int], most: Int)>(([:], 0))
        var dataIdentity: String { "ranges v1" }
        var devItems: Int { 12 }
        var holdoutItems: Int { 0 }
        var scoresItemRanges: Bool { true }

        func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, items: Int, meter: SpendMeter) async throws -> TrialOutcome {
            try await evaluate(pipeline, phase: phase, range: 0..<items, meter: meter)
        }

        func evaluate(_ pipeline: ConfiguredPipeline, phase: TrialPhase, range: Range<Int>, meter: SpendMeter) async throws -> TrialOutcome {
            let key = pipeline.configuration.key
            log.withLock { $0.append("\(phase.rawValue)|\(range.lowerBound)-\(range.upperBound)|\(key)") }
            running.withLock {
                $0.now[key, default: 0] += 1
                $0.most = max($0.most, $0.now[key]!)
            }
            try await Task.sleep(for: .milliseconds(200))
            running.withLock { $0.now[key, default: 0] -= 1 }
            guard case .int(let samples)? = pipeline.configuration["samples"] else { return TrialOutcome(score: 0, items: range.count) }
            let scores = Dictionary(uniqueKeysWithValues: range.map { ("item\($0)", Double(samples) / 10 + Double($0) / 100) })
            return TrialOutcome(score: scores.values.reduce(0, +) / Double(range.count), items: range.count, itemScores: scores)
        }
    }

    @Test func threeWorkersShareEachTrialsItems() async throws {
        let space = SearchSpaceLoader.load(
            text: """
                strata-search: 1
                name: ranges
                axes:
                  samples: [1, 2, 3]
                pipeline:
                  models:
                    m: { provider: openai-compatible, model: t, base_url: "http://127.0.0.1:9/v1" }
                  layers:
                    - ensemble: [{ model: m, samples: $samples }]
                    - vote: { extractor: numeric }
                """, path: "ranges.yaml"
        ).space!
        let plan = SearchPlan(space: space)
        let url = try await TestPostgres.freshDatabase()
        let evaluator = RangeEvaluator()
        let results = try await withThrowingTaskGroup(of: SearchResult.self) { group in
            for index in 0..<3 {
                group.addTask {
                    let database = try await TestPostgres.open(url)
                    defer { database.close() }
                    let store = PostgresStudyStore(database: database)
                    let search = Search(plan: plan, settings: SearchSettings(algorithm: .grid, leaders: 1), evaluator: evaluator, store: store)
                    return try await search.runWorker(
                        store: store, worker: WorkerOptions(id: "w\(index)", leaseTTL: 10, heartbeat: 1, poll: 0.05, unitItems: 4))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let log = evaluator.log.withLock { $0 }
        #expect(log.count == Set(log).count, "a range was scored twice: \(log.sorted())")
        #expect(Set(log) == Set(["1", "2", "3"].flatMap { samples in ["0-4", "4-8", "8-12"].map { "dev|\($0)|samples=\(samples)" } }))
        #expect(evaluator.running.withLock { $0.most } >= 2, "no trial's ranges were scored at once")
        for result in results {
            #expect(result.trials.count == 3)
            for trial in result.trials {
                // The whole trial, as one evaluation of its 12 items would score it.
                guard case .int(let samples)? = trial.configuration["samples"] else { continue }
                #expect(trial.outcome?.items == 12)
                #expect(trial.outcome?.itemScores.count == 12)
                #expect(abs((trial.objective ?? 0) - (Double(samples) / 10 + 0.055)) < 1e-9)
            }
            #expect(result.best?.configuration.key == "samples=3")
        }
    }
}
