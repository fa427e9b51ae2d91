import StrataChecker
import StrataCompiler

/// What a layer whose every call failed hands on (fuse, unit-test).
enum LayerFallback {
    /// What a layer whose every call failed hands on, by its `on_failure`
    /// policy; the fallback is recorded as a note the run result carries.
    static func apply(_ layer: LayerSpec, pool: [Candidate], reason: String, context: LayerContext) throws -> [Candidate] {
        // Critiques describe the candidates they came with; a generating layer's output never carries them.
        let stripped =
            layer.kind.makesCandidates
            ? pool.map {
                var candidate = $0; candidate.critique = nil; return candidate
            } : pool
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
}
