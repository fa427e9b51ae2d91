import StrataDiagnostics
import StrataSyntax

/// `vote`: no calls; the candidates with the most frequent answer go on.
struct VoteTyping: LayerTyping {
    var kinds: [LayerKind] { [.vote] }
    var mainRole: CallRole? { nil }

    func templates(_ draft: LayerDraft) -> (main: PromptTemplate?, second: (role: CallRole, template: PromptTemplate)?) { (nil, nil) }

    func inputTokens(_ draft: LayerDraft, _ sizes: PromptSizes) -> [CallRole: Int] { [:] }

    func checkPool(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout LayerWalk.Pool, walk: inout LayerWalk) {
        walk.checkVotePool(layer, &draft)
    }

    func worstCaseCalls(_ layer: CheckedLayer) -> Int { 0 }
}

extension LayerWalk {
    /// A vote keeps the winning answer's candidates: at least one whenever any
    /// arrive; fewer than three voters is a warning (W043).
    mutating func checkVotePool(_ layer: LayerSyntax, _ draft: inout LayerDraft) {
        let poolIn = draft.poolIn
        if poolIn.max < 3, poolIn.max > 0 {
            report(
                .fewVoters, "this vote receives at most \(candidates(poolIn.max)); a majority needs at least three", at: layer.kindRange,
                notes: [DiagnosticNote("sample more candidates in the ensemble, or drop the vote")])
        }
        draft.poolOut = PoolRange(min(1, poolIn.min), poolIn.max)
    }
}
