import Foundation
import StrataEval
import StrataRuntime
import StrataSpace

/// A search's result as plain data: what `--format json` prints and the
/// report draws.
package struct SearchSummary: Sendable, Codable {
    package struct Row: Sendable, Codable {
        package var rank: Int
        package var configuration: String
        package var values: [String: String]
        /// Items of the search split it was scored on, and the score there.
        package var items: Int
        package var score: Double
        package var objective: Double
        package var staticCalls: Int
        package var staticUSD: Double
        package var paretoFront: Bool
        package var holdoutScore: Double?
        package var holdoutLow: Double?
        package var holdoutHigh: Double?
        package var holdoutItems: Int?
    }

    package struct Baseline: Sendable, Codable {
        package var pipeline: String
        package var holdoutScore: Double
        package var holdoutLow: Double
        package var holdoutHigh: Double
        package var holdoutItems: Int
        package var calls: Int
    }

    package var study: String
    package var space: String
    package var algorithm: String
    package var fidelity: String
    package var objective: String
    package var dataset: String
    package var devItems: Int
    package var holdoutItems: Int
    package var spaceSize: Int
    package var feasible: Int
    package var configurationsTried: Int
    package var trialsRun: Int
    package var trialsReused: Int
    package var requestedCalls: Int
    package var issuedCalls: Int
    package var usd: Double
    package var seconds: Double
    package var stopReason: String?
    package var best: Row?
    package var leaders: [Row]
    package var leaderboard: [Row]
    package var baseline: Baseline?
    /// Winner vs baseline on the held-out items both were scored on.
    package var comparison: PairedComparison?
    package var bestPipelinePath: String?

    package init(
        result: SearchResult, baseline: String?, baselineOutcome: TrialOutcome?, bestPath: String?, dataset: String,
        devItems: Int, holdoutItems: Int
    ) {
        func interval(_ outcome: TrialOutcome) -> ClosedRange<Double> {
            let scores = Array(outcome.itemScores.values)
            if Statistics.isBinary(scores) { return Statistics.wilson(successes: scores.reduce(0, +), n: scores.count) }
            return Statistics.bootstrap(scores)
        }
        func row(_ entry: LeaderboardEntry, rank: Int) -> Row {
            let holdout = entry.holdout?.outcome
            let range = holdout.map(interval)
            return Row(
                rank: rank, configuration: entry.configuration.key, values: entry.configuration.values.mapValues(\.description),
                items: entry.dev.fidelity, score: entry.dev.outcome?.score ?? 0, objective: entry.objective,
                staticCalls: entry.dev.staticCalls, staticUSD: entry.dev.staticUSD, paretoFront: entry.onParetoFront,
                holdoutScore: holdout?.score, holdoutLow: range?.lowerBound, holdoutHigh: range?.upperBound, holdoutItems: holdout?.items)
        }
        study = result.study.id
        space = result.study.name
        algorithm = result.settings.algorithm.rawValue
        fidelity = result.settings.fidelity.description
        objective = result.settings.objective.description
        self.dataset = dataset
        self.devItems = devItems
        self.holdoutItems = holdoutItems
        spaceSize = result.spaceSize
        feasible = result.feasibleCount
        configurationsTried = Set(result.trials.filter { $0.phase == .dev }.map(\.configuration.key)).count
        trialsRun = result.trialsRun
        trialsReused = result.trialsReused
        requestedCalls = result.requestedCalls
        issuedCalls = result.issuedCalls
        usd = result.usd
        seconds = result.seconds
        stopReason = result.stopReason
        leaderboard = result.leaderboard.enumerated().map { row($0.element, rank: $0.offset + 1) }
        leaders = result.leaders.map { leader in
            row(leader, rank: (result.leaderboard.firstIndex { $0.configuration == leader.configuration } ?? 0) + 1)
        }
        best = leaders.first
        bestPipelinePath = bestPath
        if let baseline, let baselineOutcome {
            let range = interval(baselineOutcome)
            self.baseline = Baseline(
                pipeline: baseline, holdoutScore: baselineOutcome.score, holdoutLow: range.lowerBound,
                holdoutHigh: range.upperBound, holdoutItems: baselineOutcome.items, calls: baselineOutcome.requestedCalls)
            if let winner = result.best?.holdout?.outcome {
                func results(_ outcome: TrialOutcome) -> [ItemResult] {
                    outcome.itemScores.sorted { $0.key < $1.key }.map {
                        ItemResult(itemID: $0.key, answer: nil, failure: nil, score: $0.value, detail: nil, usage: RunUsage())
                    }
                }
                comparison = PairedComparison(results(winner), results(baselineOutcome))
            }
        }
    }
}

extension SearchSummary {
    /// The summary as the JSON `strata search --format json` prints.
    package func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
