import Foundation
import StrataProviders
import StrataRuntime
import StrataSandbox
import StrataSyntax
import Synchronization

/// What a pipeline's samples were worth, measured from the samples an
/// evaluation already drew (no extra calls): for k = 1 … n, the chance that
/// any of k samples is right (pass@k, the unbiased estimator of Chen et al.
/// 2021), and the accuracy of a majority vote and of a confidence-weighted
/// vote over k of them; and, for every verify or unit-test layer, how honest
/// its verdicts were against the reference scorer. Coverage above the vote's
/// accuracy is what a better selector could still win; a vote flat in k says
/// more samples will not pay.
public struct CoverageCurve: Sendable, Hashable, Codable {
    /// The figures at one k.
    public struct Point: Sendable, Hashable, Codable {
        /// Samples drawn (calls, for one-completion samples).
        public var k: Int
        /// Mean over items of P(at least one of k samples is right).
        public var passAtK: Double
        /// Mean accuracy of a majority vote over k samples (averaged over subsets).
        public var majorityAtK: Double
        /// The same vote with each sample weighed by its confidence, when the samples carried one.
        public var weightedAtK: Double?
        /// With a verify or unit-test layer right after the samples: the accuracy of voting among the k samples
        /// it let through (among all k when it let none through, as `on_empty: keep-all` does).
        public var verifiedAtK: Double?
        /// The same verifier: the chance that a wrong sample of the k gets through it. This is what caps
        /// resampling against an imperfect verifier ("Inference Scaling fLaws"); it grows with k.
        public var wrongLetThroughAtK: Double?
        /// The same verifier: P(the answer voted among the let-through samples is right | it let one through).
        public var verifiedPrecisionAtK: Double?
    }

    /// A verify or unit-test layer's verdicts against the reference scorer.
    public struct VerifierHonesty: Sendable, Hashable, Codable {
        /// The layer's position, from 1, and kind.
        public var layer: Int
        /// `verify` or `unit-test`.
        public var kind: String
        /// Candidates it let through, and how many of those were right.
        public var passed: Int
        /// Of those, the right ones.
        public var passedRight: Int
        /// Candidates it stopped, and how many of those were right.
        public var stopped: Int
        /// Of those, the right ones.
        public var stoppedRight: Int
        /// P(right | let through): its precision.
        public var precision: Double? { passed > 0 ? Double(passedRight) / Double(passed) : nil }
        /// P(let through | wrong): how often it waves a wrong answer by.
        public var falsePositiveRate: Double? {
            let wrong = (passed - passedRight) + (stopped - stoppedRight)
            return wrong > 0 ? Double(passed - passedRight) / Double(wrong) : nil
        }
    }

    /// The k that maximises the majority vote's accuracy, and how sure that is.
    public struct Recommendation: Sendable, Hashable, Codable {
        /// The smallest k within 1 percentage point of the best majority@k.
        public var k: Int
        /// The share of 200 bootstrap resamples of the items that recommend the same k.
        public var agreement: Double
        /// Majority@k there, and the accuracy each call past k = 1 added on average.
        public var accuracy: Double
        /// Accuracy added per call past the first, on average up to k.
        public var gainPerExtraCall: Double
    }

    /// Items with at least two samples (the others say nothing about k).
    public var items: Int
    /// The largest k every one of them reached.
    public var samples: Int
    /// The figures at k = 1 … `samples`.
    public var points: [Point]
    /// Every verify and unit-test layer's honesty, in layer order.
    public var verifiers: [VerifierHonesty]
    /// The k the majority vote is worth.
    public var recommendation: Recommendation?

    /// Measures the curve from `results` (their ensemble layer's candidates
    /// are the samples), scoring each sample as the evaluation scored answers;
    /// nil when no item has two samples. `extractor` reads the answers votes compare.
    package static func measure(
        results: [ItemResult], items: [DatasetItem], scorer: Scorer, extractor: AnswerExtractorKind, concurrency: Int = 4
    ) async throws -> CoverageCurve? {
        let byID = Dictionary(items.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let scored = Scored()
        try await forEachConcurrently(results, limit: concurrency) { result in
            guard let item = byID[result.itemID] else { return }
            var texts = Set(Self.samples(of: result).map(\.text))
            for (position, layer) in result.layers.enumerated() where position > 0 && Self.isVerifier(layer.kind) {
                texts.formUnion(result.layers[position - 1].candidates.map(\.text))
            }
            for text in texts {
                let outcome = await scorer.score(answer: text, item: item, limits: SandboxLimits(wallSeconds: 10))
                scored.set(result.itemID, text, right: outcome.score >= 0.5)
            }
        } handle: { _, _ in
            true
        }
        let samples = results.compactMap { result -> ItemSamples? in
            let candidates = Self.samples(of: result)
            guard candidates.count >= 2 else { return nil }
            return ItemSamples(
                id: result.itemID, right: candidates.map { scored.right(result.itemID, $0.text) },
                answers: candidates.map { AnswerExtractor.extract(extractor, from: $0.text) ?? "\u{0}unreadable \($0.origin)" },
                weights: candidates.allSatisfy { $0.confidence != nil } ? candidates.map { $0.confidence!.pathProbability } : nil,
                verdicts: Self.verdicts(of: result))
        }
        guard let n = samples.map(\.right.count).min() else { return nil }
        let perItem = samples.map { $0.curve(upTo: n) }
        let verified = perItem.allSatisfy { $0.verified != nil }
        let points = (1...n).map { k in
            let weighted = perItem.allSatisfy { $0.weighted != nil } ? mean(perItem.map { $0.weighted![k - 1] }) : nil
            // Precision is over the items where the verifier let something through at this k.
            let precisions = verified ? perItem.compactMap { $0.verified![k - 1].precision } : []
            return Point(
                k: k, passAtK: mean(perItem.map { $0.pass[k - 1] }), majorityAtK: mean(perItem.map { $0.majority[k - 1] }), weightedAtK: weighted,
                verifiedAtK: verified ? mean(perItem.map { $0.verified![k - 1].accuracy }) : nil,
                wrongLetThroughAtK: verified ? mean(perItem.map { $0.verified![k - 1].wrongThrough }) : nil,
                verifiedPrecisionAtK: precisions.isEmpty ? nil : mean(precisions))
        }
        return CoverageCurve(
            items: samples.count, samples: n, points: points,
            verifiers: verifierHonesty(results, right: scored.right), recommendation: recommend(perItem.map(\.majority)))
    }

    static func isVerifier(_ kind: String) -> Bool { kind == "verify" || kind == "unit-test" }

    /// Which of the samples the layer right after them let through, when that layer is a verifier.
    static func verdicts(of result: ItemResult) -> [Bool]? {
        guard let position = result.layers.firstIndex(where: { $0.kind == "ensemble" }), position + 1 < result.layers.count,
            isVerifier(result.layers[position + 1].kind)
        else { return nil }
        return letThrough(result.layers[position + 1], pool: result.layers[position].candidates)
    }

    /// Which candidates of `pool` the verifier `layer` judged good: passed on, and neither noted as judged
    /// incorrect or unverified nor passed on only because none passed (`on_empty: keep-all`).
    static func letThrough(_ layer: LayerReport, pool: [Candidate]) -> [Bool] {
        if layer.notes.contains(where: { $0.contains("keeping all") }) { return pool.map { _ in false } }
        let through = Set(layer.candidates.map { "\($0.origin)\n\($0.text)" })
        let refused = Set(layer.notes.filter { $0.contains("judged incorrect") || $0.contains("unverified") }.map { $0.prefix { $0 != " " } })
        return pool.enumerated().map { index, candidate in
            through.contains("\(candidate.origin)\n\(candidate.text)") && !refused.contains("[\(index + 1)]")
        }
    }

    /// An item's samples: its ensemble layer's candidates (none for a route,
    /// whose first layer's pool is a branch's answer, not samples).
    static func samples(of result: ItemResult) -> [Candidate] {
        result.layers.first { $0.kind == "ensemble" }?.candidates ?? []
    }

    /// Every verify and unit-test layer's let-through and stopped candidates, summed over items.
    static func verifierHonesty(_ results: [ItemResult], right: (String, String) -> Bool) -> [VerifierHonesty] {
        var byLayer: [Int: VerifierHonesty] = [:]
        for result in results {
            for (position, layer) in result.layers.enumerated() where position > 0 && isVerifier(layer.kind) {
                let pool = result.layers[position - 1].candidates
                let through = letThrough(layer, pool: pool)
                var honesty =
                    byLayer[layer.index] ?? VerifierHonesty(layer: layer.index + 1, kind: layer.kind, passed: 0, passedRight: 0, stopped: 0, stoppedRight: 0)
                for (candidate, passed) in zip(pool, through) {
                    let isRight = right(result.itemID, candidate.text)
                    if passed {
                        honesty.passed += 1
                        if isRight { honesty.passedRight += 1 }
                    } else {
                        honesty.stopped += 1
                        if isRight { honesty.stoppedRight += 1 }
                    }
                }
                byLayer[layer.index] = honesty
            }
        }
        return byLayer.keys.sorted().map { byLayer[$0]! }
    }

    /// The k of the best majority vote, by the items as measured and by 200
    /// bootstrap resamples of them (seeded, so a report is reproducible).
    static func recommend(_ majority: [[Double]]) -> Recommendation? {
        guard let n = majority.first?.count, n > 0, !majority.isEmpty else { return nil }
        func best(_ rows: [[Double]]) -> Int {
            let means = (0..<n).map { k in mean(rows.map { $0[k] }) }
            let top = means.max() ?? 0
            return (means.firstIndex { $0 >= top - 0.01 } ?? 0) + 1
        }
        let k = best(majority)
        var generator = SplitMix64(seed: 0x5eed_c0de)
        var same = 0
        for _ in 0..<200 {
            let resample = (0..<majority.count).map { _ in majority[Int(generator.next() % UInt64(majority.count))] }
            if best(resample) == k { same += 1 }
        }
        let accuracy = mean(majority.map { $0[k - 1] })
        let gain = k > 1 ? (accuracy - mean(majority.map { $0[0] })) / Double(k - 1) : 0
        return Recommendation(k: k, agreement: Double(same) / 200, accuracy: accuracy, gainPerExtraCall: gain)
    }

    static func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
}

/// Which samples were right, filled in concurrently by the scorer.
private final class Scored: Sendable {
    private let rights = Mutex<[String: Bool]>([:])
    func set(_ item: String, _ text: String, right: Bool) { rights.withLock { $0["\(item)\n\(text)"] = right } }
    func right(_ item: String, _ text: String) -> Bool { rights.withLock { $0["\(item)\n\(text)"] } ?? false }
}

/// One item's samples, in the order they were drawn.
struct ItemSamples {
    var id: String
    var right: [Bool]
    var answers: [String]
    var weights: [Double]?
    /// Which samples the verifier after them let through, if one did.
    var verdicts: [Bool]?

    /// At one k, averaged over subsets: voting among the let-through samples, whether a wrong one got through,
    /// and whether the vote was right when any got through (nil when none ever did).
    struct Verified {
        var accuracy: Double
        var wrongThrough: Double
        var precision: Double?
    }

    /// pass@k, majority@k, weighted@k and the verifier's figures for k = 1 … n.
    func curve(upTo n: Int) -> (pass: [Double], majority: [Double], weighted: [Double]?, verified: [Verified]?) {
        let total = right.count
        let correct = right.filter { $0 }.count
        let pass = (1...n).map { k in 1 - Self.chooseRatio(total - correct, total, k) }
        // Votes over k of the samples: every subset when there are few, else 64 seeded draws.
        var generator = SplitMix64(seed: UInt64(truncatingIfNeeded: id.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) }))
        var majority: [Double] = []
        var weighted: [Double] = []
        var verified: [Verified] = []
        for k in 1...n {
            let subsets = Self.subsets(total, k, generator: &generator)
            let share = { (hits: Int) in Double(hits) / Double(subsets.count) }
            majority.append(share(subsets.filter { vote($0, weighted: false) }.count))
            if weights != nil { weighted.append(share(subsets.filter { vote($0, weighted: true) }.count)) }
            if let verdicts {
                let through = subsets.map { $0.filter { verdicts[$0] } }
                let rightWhenThrough = through.filter { !$0.isEmpty }.map { vote($0, weighted: false) }
                verified.append(
                    Verified(
                        accuracy: share(zip(subsets, through).filter { vote($1.isEmpty ? $0 : $1, weighted: false) }.count),
                        wrongThrough: share(through.filter { $0.contains { !right[$0] } }.count),
                        precision: rightWhenThrough.isEmpty
                            ? nil : Double(rightWhenThrough.filter { $0 }.count) / Double(rightWhenThrough.count)))
            }
        }
        return (pass, majority, weights == nil ? nil : weighted, verdicts == nil ? nil : verified)
    }

    /// Whether the vote over the samples at `indices` picks a right answer (ties go to the earliest sample).
    func vote(_ indices: [Int], weighted: Bool) -> Bool {
        var votes: [String: (total: Double, first: Int)] = [:]
        for index in indices {
            let weight = weighted ? weights?[index] ?? 1 : 1
            votes[answers[index], default: (0, index)].total += weight
        }
        guard let winner = votes.max(by: { ($0.value.total, -$0.value.first) < ($1.value.total, -$1.value.first) }) else { return false }
        return right[winner.value.first]
    }

    /// The k-subsets of 0..<n in lexicographic order.
    static func combinations(_ n: Int, _ k: Int) -> [[Int]] {
        guard k > 0 else { return [[]] }
        guard k <= n else { return [] }
        var all: [[Int]] = []
        var current = Array(0..<k)
        while true {
            all.append(current)
            guard let i = (0..<k).last(where: { current[$0] < n - k + $0 }) else { return all }
            current[i] += 1
            for j in (i + 1)..<k { current[j] = current[j - 1] + 1 }
        }
    }

    /// C(a, k) / C(b, k), the chance that k samples drawn from b all come from a given a.
    static func chooseRatio(_ a: Int, _ b: Int, _ k: Int) -> Double {
        guard a >= k else { return 0 }
        var ratio = 1.0
        for i in 0..<k { ratio *= Double(a - i) / Double(b - i) }
        return ratio
    }

    /// Every k-subset of n samples when there are at most 64, else 64 seeded draws.
    static func subsets(_ n: Int, _ k: Int, generator: inout SplitMix64) -> [[Int]] {
        let count = (0..<k).reduce(1.0) { $0 * Double(n - $1) / Double($1 + 1) }
        if count < 64.5 { return combinations(n, k) }
        return (0..<64).map { _ in
            var pool = Array(0..<n)
            for i in 0..<k { pool.swapAt(i, i + Int(generator.next() % UInt64(n - i))) }
            return Array(pool[..<k]).sorted()
        }
    }
}
