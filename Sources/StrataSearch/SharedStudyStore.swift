import Foundation
import StrataSpace

/// A trial proposed and not yet finished: in the queue, or being evaluated by a worker.
public struct PendingTrial: Sendable, Codable, Hashable {
    /// The configuration to evaluate.
    public var configuration: Configuration
    /// Development or held-out.
    public var phase: TrialPhase
    /// How many items it is scored on.
    public var fidelity: Int
    /// Its static worst-case calls per query.
    public var staticCalls: Int
    /// Its static worst-case US dollars per query.
    public var staticUSD: Double

    /// A trial to queue.
    public init(configuration: Configuration, phase: TrialPhase, fidelity: Int, staticCalls: Int, staticUSD: Double) {
        self.configuration = configuration
        self.phase = phase
        self.fidelity = fidelity
        self.staticCalls = staticCalls
        self.staticUSD = staticUSD
    }

    /// The same identity as the `TrialRecord` it becomes.
    public var identity: String { TrialKey(phase, fidelity, configuration).description }

    /// The trial a finished record was.
    public init(_ record: TrialRecord) {
        self.init(
            configuration: record.configuration, phase: record.phase, fidelity: record.fidelity, staticCalls: record.staticCalls,
            staticUSD: record.staticUSD)
    }
}

/// What a worker sees when it proposes: every trial of the study, finished or pending.
public struct SharedStudyState: Sendable {
    /// The finished trials.
    public var finished: [TrialRecord]
    /// The trials queued or being evaluated.
    public var pending: [PendingTrial]
    /// How many proposals the study has made: proposal k draws from a generator seeded with (seed, k),
    /// so workers sharing a seed never propose in lockstep.
    public var proposals: Int

    /// The study as a proposal sees it.
    public init(finished: [TrialRecord], pending: [PendingTrial], proposals: Int) {
        self.finished = finished
        self.pending = pending
        self.proposals = proposals
    }
}

/// A worker's lease on one pending trial, or on a range of its items.
public struct ClaimedTrial: Sendable {
    /// The work unit's id in the store.
    public var unit: Int64
    /// The trial the unit belongs to.
    public var trial: PendingTrial
    /// The items of the trial this unit scores: all of them (`0..<fidelity`), or a range when the trial is split among workers.
    public var items: Range<Int>
    /// How many workers have claimed it (1 the first time; more after takeovers).
    public var attempts: Int

    /// A lease on `items` of `trial` (all of its items when nil).
    public init(unit: Int64, trial: PendingTrial, items: Range<Int>? = nil, attempts: Int) {
        self.unit = unit
        self.trial = trial
        self.items = items ?? 0..<trial.fidelity
        self.attempts = attempts
    }

    /// Whether the unit is the whole trial.
    public var isWholeTrial: Bool { items == 0..<trial.fidelity }
}

/// What one unit of a trial measured: its outcome, or why it failed.
public struct TrialPart: Sendable, Codable, Hashable {
    /// The items the unit scored.
    public var items: Range<Int>
    /// What it measured; nil when it failed.
    public var outcome: TrialOutcome?
    /// Why it failed, when it did.
    public var error: String?

    /// One unit's result.
    public init(items: Range<Int>, outcome: TrialOutcome?, error: String?) {
        self.items = items
        self.outcome = outcome
        self.error = error
    }
}

/// How finishing a unit went.
public enum UnitCompletion: Sendable {
    /// The lease was lost meanwhile: another worker owns the unit, and this part is dropped.
    case lost
    /// Recorded; other units of the trial are still to finish.
    case waiting
    /// It was the trial's last unit: the trial is recorded, numbered.
    case recorded(TrialRecord)
}

/// A worker as the study's status shows it.
public struct WorkerStatus: Sendable, Codable, Hashable {
    /// The worker's id, unique in the study.
    public var id: String
    /// The machine it runs on.
    public var host: String
    /// Its process id.
    public var pid: Int
    /// When it joined the study.
    public var startedAt: Date
    /// Its last heartbeat.
    public var lastSeenAt: Date
    /// The trial it holds a live lease on, if any.
    public var leased: String?

    /// A worker's status.
    public init(id: String, host: String, pid: Int, startedAt: Date, lastSeenAt: Date, leased: String?) {
        self.id = id
        self.host = host
        self.pid = pid
        self.startedAt = startedAt
        self.lastSeenAt = lastSeenAt
        self.leased = leased
    }
}

/// A shared study at a glance (`strata search --status`).
public struct SharedStudyStatus: Sendable, Codable, Hashable {
    /// The study.
    public var study: StudyDescriptor
    /// Finished trials.
    public var complete: Int
    /// Trials that failed.
    public var failed: Int
    /// Trials queued or being evaluated.
    public var pending: Int
    /// Pending trials a worker holds a live lease on.
    public var leased: Int
    /// Model calls issued by every worker.
    public var issuedCalls: Int
    /// What they cost, in US dollars.
    public var usd: Double
    /// Why the study stopped, when a limit stopped it.
    public var stopReason: String?
    /// The workers that joined the study.
    public var workers: [WorkerStatus]
    /// The best finished dev trial.
    public var best: TrialRecord?

    /// A study's status.
    public init(
        study: StudyDescriptor, complete: Int, failed: Int, pending: Int, leased: Int, issuedCalls: Int, usd: Double, stopReason: String?,
        workers: [WorkerStatus], best: TrialRecord?
    ) {
        self.study = study
        self.complete = complete
        self.failed = failed
        self.pending = pending
        self.leased = leased
        self.issuedCalls = issuedCalls
        self.usd = usd
        self.stopReason = stopReason
        self.workers = workers
        self.best = best
    }
}

/// A study store that many worker processes, on many machines, share with no
/// coordinator of their own: proposals are made one at a time under the
/// study's lock, trials are leased with an expiry the store's clock judges
/// and a heartbeat renews, and a trial whose worker died is taken over.
/// `PostgresStudyStore` (module `StrataPostgres`) implements it.
public protocol SharedStudyStore: StudyStore {
    /// Says a worker is working on the study (for `--status`), and when it was last seen.
    func register(worker: String, study: String) async throws
    /// Under the study's proposal lock, in one transaction: reads the study
    /// and queues the trials `decide` returns (each trial identity at most
    /// once, ever), each as one unit, or as units of `unitItems` items when
    /// given and the trial has more.
    func propose(
        study: String, worker: String, unitItems: Int?, _ decide: @escaping @Sendable (SharedStudyState) -> [PendingTrial]
    ) async throws -> SharedStudyState
    /// Leases a queued trial, or one whose lease expired, for `ttl` seconds; nil when none is ready.
    func claim(study: String, worker: String, ttl: Double) async throws -> ClaimedTrial?
    /// Extends a lease; false when the worker lost it (it expired and another worker took the trial).
    func renew(_ claim: ClaimedTrial, worker: String, ttl: Double) async throws -> Bool
    /// Gives a lease back unfinished (the search stopped for a limit): the trial is queued again.
    func release(_ claim: ClaimedTrial, worker: String) async throws
    /// Finishes a leased unit with what it measured, under the trial's lock.
    /// When it is the trial's last, `compose` makes the trial's record from
    /// every unit's part (in item order) and the store records it, numbered
    /// in order of completion, in the same transaction.
    func complete(
        _ claim: ClaimedTrial, part: TrialPart, worker: String, study: String, compose: @escaping @Sendable ([TrialPart]) -> TrialRecord
    ) async throws -> UnitCompletion
    /// Adds a worker's spend to the study's and returns the study's totals, and
    /// why the study stopped if a worker stopped it.
    func addSpend(study: String, calls: Int, usd: Double) async throws -> (calls: Int, usd: Double, stopReason: String?)
    /// Records why the study stopped (a global limit), for every worker and `--status`;
    /// nil clears it (a worker started again, perhaps with higher limits).
    func stop(study: String, reason: String?) async throws
    /// The study at a glance; nil when there is no such study.
    func status(study: String) async throws -> SharedStudyStatus?
}

extension SharedStudyStore {
    /// Queues the trials `decide` returns, each as one unit.
    public func propose(study: String, worker: String, _ decide: @escaping @Sendable (SharedStudyState) -> [PendingTrial]) async throws -> SharedStudyState {
        try await propose(study: study, worker: worker, unitItems: nil, decide)
    }

    /// Finishes a leased whole trial with its record; its number, or nil when the lease was lost meanwhile.
    public func complete(_ claim: ClaimedTrial, record: TrialRecord, worker: String, study: String) async throws -> Int? {
        let part = TrialPart(items: claim.items, outcome: record.outcome, error: record.error)
        guard case .recorded(let recorded) = try await complete(claim, part: part, worker: worker, study: study, compose: { _ in record }) else {
            return nil
        }
        return recorded.number
    }
}
