import StrataDiagnostics
import StrataSyntax

/// `verify`: per candidate a reasoning call and a verdict call; those judged correct go on.
struct VerifyTyping: LayerTyping {
    var kinds: [LayerKind] { [.verify] }
    var mainRole: CallRole? { .verifyReasoning }

    func templates(_ draft: LayerDraft) -> (main: PromptTemplate?, second: (role: CallRole, template: PromptTemplate)?) {
        (.verifyReasoning, (.verifyVerdict, .verifyVerdict))
    }

    func inputTokens(_ draft: LayerDraft, _ sizes: PromptSizes) -> [CallRole: Int] {
        [
            .verifyReasoning: sizes.fixed(.verifyReasoning) + sizes.query + sizes.candidateTokens,
            .verifyVerdict: sizes.fixed(.verifyVerdict) + sizes.query + sizes.candidateTokens + draft.base.maxTokens,
        ]
    }

    func checkPool(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout LayerWalk.Pool, walk: inout LayerWalk) {
        walk.checkVerifyPool(layer, &draft)
    }

    func worstCaseCalls(_ layer: CheckedLayer) -> Int { 2 * layer.poolIn.max }
}

extension LayerWalk {
    /// Verify keeps the candidates judged correct, the first `first_k` of them.
    mutating func checkVerifyPool(_ layer: LayerSyntax, _ draft: inout LayerDraft) {
        let poolIn = draft.poolIn
        draft.firstK = layer.firstK?.value
        if let written = layer.firstK, written.value >= poolIn.max, poolIn.max > 0 {
            report(
                .firstKNeverStops, "'first_k' is \(written.value), but at most \(candidates(poolIn.max)) arrive, so verify never stops early",
                at: written.range,
                notes: [DiagnosticNote("remove 'first_k' or lower it")])
        }
        let kept = min(draft.firstK ?? poolIn.max, poolIn.max)
        draft.poolOut = filteredPool(poolIn, keptMax: kept, policy: layer.onEmpty?.value, kind: .verify)
    }
}
