import StrataDiagnostics
import StrataSyntax

/// `rank`: one call orders the pool; the top k go on.
struct RankTyping: LayerTyping {
    var kinds: [LayerKind] { [.rank] }
    var mainRole: CallRole? { .rank }

    func templates(_ draft: LayerDraft) -> (main: PromptTemplate?, second: (role: CallRole, template: PromptTemplate)?) { (.rank, nil) }

    func inputTokens(_ draft: LayerDraft, _ sizes: PromptSizes) -> [CallRole: Int] { [.rank: sizes.fixed(.rank) + sizes.query + sizes.embedded] }

    func checkPool(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout LayerWalk.Pool, walk: inout LayerWalk) {
        walk.checkRankPool(layer, &draft)
    }

    func worstCaseCalls(_ layer: CheckedLayer) -> Int { 1 }
}

extension LayerWalk {
    /// Rank keeps `top_k` (required): above the largest pool is an error
    /// (E031), equal to a fixed pool (W032) or above the smallest (W033) a warning.
    mutating func checkRankPool(_ layer: LayerSyntax, _ draft: inout LayerDraft) {
        let poolIn = draft.poolIn
        let requested = layer.topK?.value ?? min(poolIn.max, 1)
        if let written = layer.topK {
            if written.value > poolIn.max, poolIn.max > 0 {
                report(
                    .topKExceedsPool, "'top_k' is \(written.value), but this layer receives at most \(candidates(poolIn.max))", at: written.range,
                    notes: [DiagnosticNote("the previous layer yields \(poolIn) candidate\(poolIn.max == 1 ? "" : "s")")],
                    fixIts: [.replace(written.range, with: "\(poolIn.max)")])
            } else if written.value == poolIn.max, poolIn.min == poolIn.max {
                report(
                    .rankKeepsEverything, "'top_k' keeps all \(written.value) candidates, so this rank only reorders them", at: written.range,
                    notes: [DiagnosticNote("lower 'top_k' to filter, or keep it if only the order matters (the first candidate becomes the answer)")])
            } else if written.value > poolIn.min {
                report(
                    .topKMayExceedPool, "'top_k' is \(written.value), but this layer can receive as few as \(candidates(poolIn.min))", at: written.range,
                    notes: [DiagnosticNote("when fewer arrive, all of them are kept")])
            }
        } else {
            report(
                .missingKey, "the 'rank' layer does not say how many candidates to keep", at: layer.kindRange,
                notes: [DiagnosticNote("add 'top_k: K' (at most \(poolIn.max))")])
        }
        draft.topK = requested
        draft.poolOut = PoolRange(min(requested, poolIn.min), min(requested, poolIn.max))
    }
}
