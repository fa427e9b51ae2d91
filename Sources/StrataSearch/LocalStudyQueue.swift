import Foundation
import StrataEval
import StrataProviders
import StrataSpace

extension StudyStore {
    /// A queue, leases and spend kept in this process over this store of finished trials.
    public func workQueue() -> any SharedStudyStore { LocalStudyQueue(self) }
}

extension SharedStudyStore {
    /// A store shared between processes is its own queue.
    public func workQueue() -> any SharedStudyStore { self }
}

/// The part of a shared study that lives in one process: the queued trials
/// and their leases, the spend and the stop reason, behind the actor's lock.
/// Finished trials go to the store underneath as each finishes, which is all
/// a rerun needs: the policy proposes again what was queued and unfinished.
actor LocalStudyQueue: SharedStudyStore {
    private struct Unit {
        var id: Int64
        var trial: PendingTrial
        var items: Range<Int>
        var holder: String?
        /// The holder's lease, on the queue's clock.
        var lease: Deadline?
        var attempts = 0
        var part: TrialPart?
    }

    private let finishedTrials: any StudyStore
    private let clock: any Clock<Duration>
    private var units: [Int64: Unit] = [:]
    private var nextUnit: Int64 = 1
    private var proposals = 0
    private var spend: [String: (calls: Int, usd: Double)] = [:]
    private var stopReasons: [String: String] = [:]
    private var workers: [String: WorkerStatus] = [:]

    init(_ store: any StudyStore, clock: any Clock<Duration> = ContinuousClock()) {
        finishedTrials = store
        self.clock = clock
    }

    private func isLive(_ unit: Unit) -> Bool { unit.holder != nil && unit.lease?.hasPassed == false }

    func open(_ study: StudyDescriptor) async throws {
        try await finishedTrials.open(study)
        // Earlier runs of the study spent what their trials did.
        let outcomes = try await finishedTrials.trials(study: study.id).compactMap(\.outcome)
        spend[study.id] = (outcomes.reduce(0) { $0 + $1.issuedCalls }, outcomes.reduce(0) { $0 + $1.usd })
    }

    func trials(study: String) async throws -> [TrialRecord] { try await finishedTrials.trials(study: study) }

    func record(_ trial: TrialRecord, study: String) async throws { try await finishedTrials.record(trial, study: study) }

    func register(worker: String, study: String) {
        let now = Date()
        workers[worker] = WorkerStatus(
            id: worker, host: ProcessInfo.processInfo.hostName, pid: Int(ProcessInfo.processInfo.processIdentifier),
            startedAt: workers[worker]?.startedAt ?? now, lastSeenAt: now, leased: nil)
    }

    private var pendingTrials: [PendingTrial] {
        var seen = Set<String>()
        return units.values.sorted { $0.id < $1.id }.compactMap { seen.insert($0.trial.identity).inserted ? $0.trial : nil }
    }

    func propose(
        study: String, worker: String, unitItems: Int?, _ decide: @escaping @Sendable (SharedStudyState) -> [PendingTrial]
    ) async throws -> SharedStudyState {
        var state = SharedStudyState(finished: try await finishedTrials.trials(study: study), pending: pendingTrials, proposals: proposals)
        let known = Set(state.finished.map(\.identity) + state.pending.map(\.identity))
        let proposed = decide(state).filter { !known.contains($0.identity) }
        for trial in proposed {
            let ranges = unitItems.map { ItemRange.split(trial.fidelity, by: $0) } ?? [0..<trial.fidelity]
            for range in ranges {
                units[nextUnit] = Unit(id: nextUnit, trial: trial, items: range)
                nextUnit += 1
            }
        }
        if !proposed.isEmpty {
            proposals += 1
            state.pending += proposed
            state.proposals = proposals
        }
        return state
    }

    func claim(study: String, worker: String, ttl: Double) -> ClaimedTrial? {
        guard var unit = units.values.sorted(by: { $0.id < $1.id }).first(where: { $0.part == nil && !isLive($0) }) else { return nil }
        unit.holder = worker
        unit.lease = Deadline(seconds: ttl, on: clock)
        unit.attempts += 1
        units[unit.id] = unit
        return ClaimedTrial(unit: unit.id, trial: unit.trial, items: unit.items, attempts: unit.attempts)
    }

    func renew(_ claim: ClaimedTrial, worker: String, ttl: Double) -> Bool {
        guard var unit = units[claim.unit], unit.holder == worker, unit.part == nil else { return false }
        unit.lease = Deadline(seconds: ttl, on: clock)
        units[claim.unit] = unit
        return true
    }

    func release(_ claim: ClaimedTrial, worker: String) {
        guard var unit = units[claim.unit], unit.holder == worker else { return }
        unit.holder = nil
        units[claim.unit] = unit
    }

    func complete(
        _ claim: ClaimedTrial, part: TrialPart, worker: String, study: String, compose: @escaping @Sendable ([TrialPart]) -> TrialRecord
    ) async throws -> UnitCompletion {
        guard var unit = units[claim.unit], unit.holder == worker, unit.part == nil else { return .lost }
        unit.part = part
        units[claim.unit] = unit
        let siblings = units.values.filter { $0.trial.identity == unit.trial.identity }
        guard siblings.allSatisfy({ $0.part != nil }) else { return .waiting }
        var record = compose(siblings.compactMap(\.part).sorted { $0.items.lowerBound < $1.items.lowerBound })
        record.number = (try await finishedTrials.trials(study: study).map(\.number).max() ?? -1) + 1
        try await finishedTrials.record(record, study: study)
        for sibling in siblings { units[sibling.id] = nil }
        return .recorded(record)
    }

    func addSpend(study: String, calls: Int, usd: Double) -> (calls: Int, usd: Double, stopReason: String?) {
        var total = spend[study] ?? (0, 0)
        total.calls += calls
        total.usd += usd
        spend[study] = total
        return (total.calls, total.usd, stopReasons[study])
    }

    func stop(study: String, reason: String?) { stopReasons[study] = reason }

    func status(study: String) async throws -> SharedStudyStatus? {
        let trials = try await finishedTrials.trials(study: study)
        let leased = units.values.filter { $0.part == nil && isLive($0) }
        let total = spend[study] ?? (0, 0)
        let best = trials.filter { $0.phase == .dev && $0.status == .complete }.max { ($0.objective ?? -.infinity) < ($1.objective ?? -.infinity) }
        let descriptor = StudyDescriptor(id: study, name: study, spacePath: "", settings: "")
        return SharedStudyStatus(
            study: descriptor, complete: trials.filter { $0.status == .complete }.count, failed: trials.filter { $0.status == .failed }.count,
            pending: pendingTrials.count, leased: Set(leased.map(\.trial.identity)).count, issuedCalls: total.calls, usd: total.usd,
            stopReason: stopReasons[study],
            workers: workers.values.map { worker in
                var worker = worker
                worker.leased = leased.first { $0.holder == worker.id }?.trial.identity
                return worker
            }.sorted { $0.id < $1.id }, best: best)
    }
}
