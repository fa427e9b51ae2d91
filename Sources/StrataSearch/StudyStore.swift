import Foundation
import StrataSpace

/// Which part of the dataset a trial was scored on.
public enum TrialPhase: String, Sendable, Codable, Hashable {
    /// The search split (the paper's 20%): what the optimizer sees.
    case dev
    /// The held-out split: only the final leaders and the baseline.
    case holdout
}

/// How a trial ended.
public enum TrialStatus: String, Sendable, Codable, Hashable {
    case complete
    /// The evaluator threw (a dataset problem, every item failing to run, …).
    case failed
}

/// What evaluating a configuration on some items measured.
public struct TrialOutcome: Sendable, Codable, Hashable {
    /// Mean score over the items.
    public var score: Double
    /// How many items were scored.
    public var items: Int
    /// Score per item id, for paired comparisons.
    public var itemScores: [String: Double]
    /// How many items failed (no answer).
    public var failures: Int
    /// Model calls the pipeline asked for, and those actually sent (the rest were cache hits).
    public var requestedCalls: Int
    /// Model calls issued (cache hits not counted).
    public var issuedCalls: Int
    /// Input tokens of the issued calls.
    public var inputTokens: Int
    /// Output tokens of the issued calls.
    public var outputTokens: Int
    /// What the issued calls cost, in US dollars.
    public var usd: Double
    /// Wall-clock seconds of the evaluation.
    public var seconds: Double

    /// What a trial measured.
    public init(
        score: Double, items: Int, itemScores: [String: Double] = [:], failures: Int = 0, requestedCalls: Int = 0, issuedCalls: Int = 0,
        inputTokens: Int = 0, outputTokens: Int = 0, usd: Double = 0, seconds: Double = 0
    ) {
        self.score = score
        self.items = items
        self.itemScores = itemScores
        self.failures = failures
        self.requestedCalls = requestedCalls
        self.issuedCalls = issuedCalls
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.usd = usd
        self.seconds = seconds
    }

    /// One outcome of the parts of a trial scored separately (ranges of its
    /// items, by different workers): the mean over every item, the sums of
    /// the rest (seconds too: the work the parts did, not the wall clock).
    public static func combining(_ parts: [TrialOutcome]) -> TrialOutcome {
        if parts.count == 1 { return parts[0] }
        let items = parts.reduce(0) { $0 + $1.items }
        return TrialOutcome(
            score: items == 0 ? 0 : parts.reduce(0) { $0 + $1.score * Double($1.items) } / Double(items), items: items,
            itemScores: parts.reduce(into: [:]) { $0.merge($1.itemScores) { first, _ in first } }, failures: parts.reduce(0) { $0 + $1.failures },
            requestedCalls: parts.reduce(0) { $0 + $1.requestedCalls }, issuedCalls: parts.reduce(0) { $0 + $1.issuedCalls },
            inputTokens: parts.reduce(0) { $0 + $1.inputTokens }, outputTokens: parts.reduce(0) { $0 + $1.outputTokens },
            usd: parts.reduce(0) { $0 + $1.usd }, seconds: parts.reduce(0) { $0 + $1.seconds })
    }
}

/// One evaluation of one configuration at one fidelity, as stored.
public struct TrialRecord: Sendable, Codable, Hashable {
    /// Order of completion within the study, from 0.
    public var number: Int
    /// The configuration evaluated.
    public var configuration: Configuration
    /// Development or held-out.
    public var phase: TrialPhase
    /// The number of items scored (the fidelity).
    public var fidelity: Int
    /// Whether it finished or failed.
    public var status: TrialStatus
    /// What it measured; nil when it failed.
    public var outcome: TrialOutcome?
    /// Why it failed, when it did.
    public var error: String?
    /// The objective the optimizer saw (higher is better).
    public var objective: Double?
    /// Static worst-case calls and USD per query, from the compiler.
    public var staticCalls: Int
    /// Its static worst-case US dollars per query.
    public var staticUSD: Double
    /// When it finished.
    public var finishedAt: Date

    /// A finished trial.
    public init(
        number: Int, configuration: Configuration, phase: TrialPhase, fidelity: Int, status: TrialStatus, outcome: TrialOutcome?,
        error: String?, objective: Double?, staticCalls: Int, staticUSD: Double, finishedAt: Date = Date()
    ) {
        self.number = number
        self.configuration = configuration
        self.phase = phase
        self.fidelity = fidelity
        self.status = status
        self.outcome = outcome
        self.error = error
        self.objective = objective
        self.staticCalls = staticCalls
        self.staticUSD = staticUSD
        self.finishedAt = finishedAt
    }

    /// What identifies a trial for resuming: the same configuration on the same items is never run twice.
    public var identity: String { TrialKey(phase, fidelity, configuration).description }
}

/// A trial's identity in every store and study: its phase, its items and its configuration, spelled
/// `phase|items|configuration` (the stores' column; one spelling for all of them).
package struct TrialKey: Sendable, Hashable, CustomStringConvertible {
    package var phase: TrialPhase
    package var fidelity: Int
    package var configuration: String

    package init(_ phase: TrialPhase, _ fidelity: Int, _ configuration: Configuration) {
        self.phase = phase
        self.fidelity = fidelity
        self.configuration = configuration.key
    }

    package var description: String { "\(phase.rawValue)|\(fidelity)|\(configuration)" }
}

/// What identifies a study: the same space, data and settings resume the same study.
public struct StudyDescriptor: Sendable, Codable, Hashable {
    /// The study's id: a hash of its space, data, settings and seed, so a repeated search resumes it.
    public var id: String
    /// A name people read.
    public var name: String
    /// The search space file.
    public var spacePath: String
    /// The settings, as JSON, for people reading the store.
    public var settings: String

    /// A study.
    public init(id: String, name: String, spacePath: String, settings: String) {
        self.id = id
        self.name = name
        self.spacePath = spacePath
        self.settings = settings
    }
}

/// Where a search keeps its trials. Everything above this protocol works on
/// any store: SQLite here, a PostgreSQL store shared by workers on many
/// machines later — so nothing may assume SQLite, a single process or a
/// local file.
public protocol StudyStore: Sendable {
    /// Creates the study if it is new; a known id is resumed.
    func open(_ study: StudyDescriptor) async throws
    /// Every trial recorded for the study, in order of `number`.
    func trials(study: String) async throws -> [TrialRecord]
    /// Records a finished trial (replacing one with the same identity).
    func record(_ trial: TrialRecord, study: String) async throws
    /// The store as the search's worker loop uses it (see `LocalStudyQueue`): a
    /// queue in this process over a store of finished trials, or the store
    /// itself when it shares studies between processes.
    func workQueue() -> any SharedStudyStore
}

/// A store that lives as long as the process: tests, benchmarks, embedding.
public actor InMemoryStudyStore: StudyStore {
    private var studies: [String: [String: TrialRecord]] = [:]

    /// An empty store.
    public init() {}

    /// Registers the study.
    public func open(_ study: StudyDescriptor) { if studies[study.id] == nil { studies[study.id] = [:] } }

    /// The study's finished trials, in the order they finished.
    public func trials(study: String) -> [TrialRecord] { (studies[study] ?? [:]).values.sorted { $0.number < $1.number } }

    /// Records a finished trial, replacing an earlier record of the same trial.
    public func record(_ trial: TrialRecord, study: String) { studies[study, default: [:]][trial.identity] = trial }
}
