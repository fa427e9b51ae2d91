import Foundation
import StrataChecker
import StrataProviders
import StrataSandbox
import StrataSyntax

/// What the layers share across their nodes: fallbacks, reply schemas, the
/// first-k rule of verify and the vote.
enum LayerExecutors {
    /// What a layer whose every call failed hands on, by its `on_failure`
    /// policy; the fallback is recorded as a note the run result carries.
    static func fallback(_ layer: CheckedLayer, pool: [Candidate], reason: String, context: LayerContext) throws -> [Candidate] {
        // Critiques describe the candidates they came with; a generating layer's output never carries them.
        let stripped = layer.kind.makesCandidates ? pool.map { var candidate = $0; candidate.critique = nil; return candidate } : pool
        switch layer.onFailure {
        case .bestCandidate where !pool.isEmpty:
            context.fallback("\(reason); passing on the best candidate it was given ([1] \(pool[0].origin)), as on_failure: best-candidate says")
            return [stripped[0]]
        case .passThrough where !pool.isEmpty:
            context.fallback("\(reason); passing on the \(pool.count) candidate(s) it was given, as on_failure: pass-through says")
            return stripped
        default:
            throw QueryFailure(reason: reason)
        }
    }

    /// `{"type":"object","properties":{"<property>": <items>},"required":["<property>"],"additionalProperties":false}`
    static func objectSchema(_ name: String, property: String, _ items: String) -> ResponseSchema {
        ResponseSchema(name: name, json: #"{"type":"object","properties":{"# + "\"\(property)\":" + items
                       + #"},"required":["# + "\"\(property)\"" + #"],"additionalProperties":false}"#)
    }

    static let critiqueSchema = objectSchema("critiques", property: "critiques",
        #"{"type":"array","items":{"type":"object","properties":{"strengths":{"type":"string"},"weaknesses":{"type":"string"}},"required":["strengths","weaknesses"],"additionalProperties":false}}"#)
    static let verdictSchema = objectSchema("verdict", property: "verdict", #"{"type":"string","enum":["correct","incorrect"]}"#)
    static let testsSchema = objectSchema("tests", property: "tests", #"{"type":"array","items":{"type":"string"}}"#)
    static let passedSchema = objectSchema("passed", property: "passed", #"{"type":"array","items":{"type":"boolean"}}"#)

    static let rankingSchema = ResponseSchema(
        name: "ranking",
        json: #"{"type":"object","properties":{"ranking":{"type":"array","items":{"type":"integer"}}},"required":["ranking"],"additionalProperties":false}"#)

    /// Whether the first `k` correct candidates in pool order are known: every
    /// candidate before the k-th correct one has finished.
    static func firstKnown(_ k: Int, verdicts: [Bool?], finished: [Bool]) -> Bool {
        var correct = 0
        for index in verdicts.indices {
            guard finished[index] else { return false }
            if verdicts[index] == true {
                correct += 1
                if correct == k { return true }
            }
        }
        return false
    }

}

extension LayerExecutors {
    /// Self-consistency: extracts every candidate's answer, keeps the
    /// candidates whose answer is most frequent (ties broken by pool order),
    /// and records the counts. No model calls.
    static func vote(_ layer: CheckedLayer, pool: [Candidate], context: LayerContext) -> [Candidate] {
        let kind = layer.extractor ?? .numeric
        let answers = pool.map { AnswerExtractor.extract(kind, from: $0.text) }
        var counts: [String: Int] = [:]
        var firstSeen: [String: Int] = [:]
        for (index, answer) in answers.enumerated() {
            guard let answer else { continue }
            counts[answer, default: 0] += 1
            if firstSeen[answer] == nil { firstSeen[answer] = index }
        }
        guard let winner = counts.keys.max(by: { (counts[$0]!, -firstSeen[$0]!) < (counts[$1]!, -firstSeen[$1]!) }) else {
            context.note("vote (\(kind.rawValue)): no candidate has a readable answer; keeping all \(pool.count)")
            return pool
        }
        let tally = counts.sorted { (counts[$0.key]!, -firstSeen[$0.key]!) > (counts[$1.key]!, -firstSeen[$1.key]!) }
            .map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        let unreadable = answers.filter { $0 == nil }.count
        context.note("vote (\(kind.rawValue)): \(tally)" + (unreadable > 0 ? "; \(unreadable) unreadable" : "") + " → \(winner)")
        return zip(pool, answers).filter { $0.1 == winner }.map(\.0)
    }
}
