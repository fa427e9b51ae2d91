import Foundation
import StrataEval
import StrataProviders
import StrataRuntime
import StrataSearch

/// A trial as the page draws it: the configuration's values as text, the
/// measures flat. Item scores only in `TrialDetail`, so a study of
/// thousands of trials loads in one small answer.
struct TrialView: Encodable, Sendable {
    var number: Int
    var identity: String
    var phase: String
    var fidelity: Int
    var status: String
    var configuration: [String: String]
    var score: Double?
    var objective: Double?
    var staticCalls: Int
    var staticUSD: Double
    var issuedCalls: Int?
    var requestedCalls: Int?
    var usd: Double?
    var seconds: Double?
    var failures: Int?
    var items: Int?
    var error: String?
    var finishedAt: Double

    init(_ trial: TrialRecord) {
        number = trial.number
        identity = trial.identity
        phase = trial.phase.rawValue
        fidelity = trial.fidelity
        status = trial.status.rawValue
        configuration = trial.configuration.values.mapValues(\.description)
        score = trial.outcome?.score
        objective = trial.objective
        staticCalls = trial.staticCalls
        staticUSD = trial.staticUSD
        issuedCalls = trial.outcome?.issuedCalls
        requestedCalls = trial.outcome?.requestedCalls
        usd = trial.outcome?.usd
        seconds = trial.outcome?.seconds
        failures = trial.outcome?.failures
        items = trial.outcome?.items
        error = trial.error
        finishedAt = trial.finishedAt.timeIntervalSince1970
    }
}

/// One study: its trials, its axes and what each axis explains.
struct StudyView: Encodable, Sendable {
    var study: StudySummary
    var axes: [String]
    var trials: [TrialView]
    var importance: [ParameterImportance.Share]
    /// How `importance` was estimated, in a sentence for the page.
    var importanceMethod = ParameterImportance.method

    init(study: StudySummary, trials: [TrialRecord]) {
        self.study = study
        self.trials = trials.map(TrialView.init)
        axes = Set(trials.flatMap(\.configuration.values.keys)).sorted()
        importance = Self.importance(of: trials, axes: axes)
    }

    /// What each axis explains of the complete development trials' objective.
    static func importance(of trials: [TrialRecord], axes: [String]? = nil) -> [ParameterImportance.Share] {
        ParameterImportance.shares(
            axes: axes ?? Set(trials.flatMap(\.configuration.values.keys)).sorted(),
            trials: trials.compactMap { trial in
                guard trial.status == .complete, trial.phase == .dev, let objective = trial.objective else { return nil }
                return (trial.configuration.values.mapValues(\.description), objective)
            })
    }
}

/// A trial opened: its configuration as YAML and its items' scores, in natural order.
struct TrialDetail: Encodable, Sendable {
    var trial: TrialView
    var yaml: String
    var itemScores: [ItemScore]

    struct ItemScore: Encodable, Sendable {
        var id: String
        var score: Double
    }

    init(_ trial: TrialRecord) {
        self.trial = TrialView(trial)
        yaml =
            trial.configuration.values.keys.sorted().map { axis in
                "\(axis): \(YAMLScalar.quoted(trial.configuration.values[axis]!.description))"
            }.joined(separator: "\n") + "\n"
        itemScores = (trial.outcome?.itemScores ?? [:]).map { ItemScore(id: $0.key, score: $0.value) }
            .sorted { NaturalOrder.precedes($0.id, $1.id) }
    }
}

/// A run with its items, its mean and the mean's 95% interval.
struct RunView: Encodable, Sendable {
    var run: RunSummary
    var mean: Double?
    var interval: [Double]?
    /// `wilson` for scores that are all 0 or 1, else `bootstrap`.
    var intervalMethod: String?
    var items: [ItemRow]
    /// What the run's samples were worth at k = 1 … n, when its evaluation measured it.
    var coverage: CoverageCurve?
    /// The items grouped by the calls each one took: an adaptive pipeline (an early-stopping vote, a
    /// cascade) spends more on some queries than others, and this shows whether the extra calls bought accuracy.
    var callsAccuracy: [CallsGroup]

    struct CallsGroup: Encodable, Sendable {
        /// Calls the pipeline asked for (cache hits included: what the item costs without the cache).
        var calls: Int
        var items: Int
        var meanScore: Double
    }

    struct ItemRow: Encodable, Sendable {
        var id: String
        var score: Double
        var answer: String?
        var failure: String?
        var calls: Int
        var cacheHits: Int
        var usd: Double
        var seconds: Double?
    }

    init(run: RunSummary, items: [ItemResult], coverage: CoverageCurve? = nil) {
        self.run = run
        self.coverage = coverage
        callsAccuracy = Dictionary(grouping: items) { $0.usage.calls + $0.usage.cacheHits }
            .map { calls, group in CallsGroup(calls: calls, items: group.count, meanScore: group.reduce(0) { $0 + $1.score } / Double(group.count)) }
            .sorted { $0.calls < $1.calls }
        self.items = items.map {
            ItemRow(
                id: $0.itemID, score: $0.score, answer: $0.answer, failure: $0.failure, calls: $0.usage.calls, cacheHits: $0.usage.cacheHits,
                usd: $0.usage.usd, seconds: $0.timeline.map(\.end).max())
        }
        let scores = items.map(\.score)
        guard !scores.isEmpty else { return }
        mean = scores.reduce(0, +) / Double(scores.count)
        let range =
            Statistics.isBinary(scores)
            ? Statistics.wilson(successes: scores.reduce(0, +), n: scores.count) : Statistics.bootstrap(scores)
        interval = [range.lowerBound, range.upperBound]
        intervalMethod = Statistics.isBinary(scores) ? "wilson" : "bootstrap"
    }
}

/// Two runs on their shared items: each mean, and the paired test.
struct ComparisonView: Encodable, Sendable {
    var a: RunSummary
    var b: RunSummary
    var shared: Int
    var meanA: Double?
    var meanB: Double?
    var onlyA: Int
    var onlyB: Int
    /// Exact McNemar p for 0/1 scores; nil for graded ones.
    var pValue: Double?
    var items: [Pair]

    struct Pair: Encodable, Sendable {
        var id: String
        var a: Double
        var b: Double
    }

    init(a: RunSummary, itemsA: [ItemResult], b: RunSummary, itemsB: [ItemResult]) {
        self.a = a
        self.b = b
        let scoresB = Dictionary(itemsB.map { ($0.itemID, $0.score) }, uniquingKeysWith: { first, _ in first })
        items = itemsA.compactMap { item in scoresB[item.itemID].map { Pair(id: item.itemID, a: item.score, b: $0) } }
        shared = items.count
        meanA = items.isEmpty ? nil : items.reduce(0) { $0 + $1.a } / Double(items.count)
        meanB = items.isEmpty ? nil : items.reduce(0) { $0 + $1.b } / Double(items.count)
        onlyA = items.filter { $0.a > $0.b }.count
        onlyB = items.filter { $0.b > $0.a }.count
        let binary = Statistics.isBinary(items.map(\.a) + items.map(\.b))
        pValue = binary && !items.isEmpty ? Statistics.mcNemar(onlyA: onlyA, onlyB: onlyB) : nil
    }
}

/// One item of a run opened: every layer's candidates, votes, verdicts and
/// confidences (the layer reports), and its calls in time.
struct ItemView: Encodable, Sendable {
    var run: String
    var item: ItemResult
}

/// Text as a YAML scalar: plain when YAML would read it back as the same string, quoted otherwise.
enum YAMLScalar {
    static func quoted(_ text: String) -> String {
        let plain = text.range(of: #"^[A-Za-z0-9_./-][A-Za-z0-9_ ./-]*$"#, options: .regularExpression) != nil && !text.hasSuffix(" ")
        if plain { return text }
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(escaped)\""
    }
}

extension ParameterImportance {
    static let method =
        "first-order variance shares (fANOVA's main effects, estimated from the trials' group means; numeric axes with many values in quintiles)"
}

/// The study's answers, written by `JSONBody`: a 10,000-trial study is megabytes
/// of JSON, which `JSONEncoder` took most of half a second to write.
extension TrialView {
    var json: JSONBody {
        var fields: [String: JSONBody] = [
            "number": .int(number), "identity": .string(identity), "phase": .string(phase), "fidelity": .int(fidelity), "status": .string(status),
            "configuration": .object(configuration.mapValues(JSONBody.string)), "staticCalls": .int(staticCalls),
            "staticUSD": .double(staticUSD), "finishedAt": .double(finishedAt),
        ]
        if let score { fields["score"] = .double(score) }
        if let objective { fields["objective"] = .double(objective) }
        if let issuedCalls { fields["issuedCalls"] = .int(issuedCalls) }
        if let requestedCalls { fields["requestedCalls"] = .int(requestedCalls) }
        if let usd { fields["usd"] = .double(usd) }
        if let seconds { fields["seconds"] = .double(seconds) }
        if let failures { fields["failures"] = .int(failures) }
        if let items { fields["items"] = .int(items) }
        if let error { fields["error"] = .string(error) }
        return .object(fields)
    }
}

extension StudyView {
    var json: JSONBody {
        [
            "study": StudioJSON.raw(study), "axes": .array(axes.map(JSONBody.string)), "trials": .array(trials.map(\.json)),
            "importance": StudioJSON.raw(importance), "importanceMethod": .string(importanceMethod),
        ]
    }
}

/// A small value as `JSONEncoder` writes it, inside a `JSONBody`.
enum StudioJSON {
    static func raw(_ value: some Encodable) -> JSONBody {
        .raw((try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null")
    }
}
