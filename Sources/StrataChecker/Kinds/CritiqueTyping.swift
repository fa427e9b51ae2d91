import StrataDiagnostics
import StrataSyntax

/// `critique`: one call about the whole pool; the critiques travel with the candidates.
struct CritiqueTyping: LayerTyping {
    var kinds: [LayerKind] { [.critique] }
    var mainRole: CallRole? { .critique }

    func templates(_ draft: LayerDraft) -> (main: PromptTemplate?, second: (role: CallRole, template: PromptTemplate)?) { (.critique, nil) }

    func inputTokens(_ draft: LayerDraft, _ sizes: PromptSizes) -> [CallRole: Int] { [.critique: sizes.fixed(.critique) + sizes.query + sizes.embedded] }

    func checkPool(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout LayerWalk.Pool, walk: inout LayerWalk) {
        pool.critiqueFrom = layer.kindRange
        pool.critiqueRead = false
    }

    func worstCaseCalls(_ layer: CheckedLayer) -> Int { 1 }
}
