import StrataDiagnostics
import StrataSyntax

/// `fuse`: each entry's model writes new candidates from the whole pool.
struct FuseTyping: LayerTyping {
    var kinds: [LayerKind] { [.fuse] }
    var mainRole: CallRole? { .fuse }

    func templates(_ draft: LayerDraft) -> (main: PromptTemplate?, second: (role: CallRole, template: PromptTemplate)?) { (.fuse, nil) }

    /// The fuse prompt is a system message that quotes the query, followed by the query itself.
    func inputTokens(_ draft: LayerDraft, _ sizes: PromptSizes) -> [CallRole: Int] {
        [.fuse: sizes.fixed(.fuse) + 2 * sizes.query + sizes.embedded + TokenEstimate.of(PromptTemplate.lengthControlSentence)]
    }

    func checkPool(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout LayerWalk.Pool, walk: inout LayerWalk) {
        walk.checkGeneratingPool(layer, &draft)
    }

    func worstCaseCalls(_ layer: CheckedLayer) -> Int { layer.entries.reduce(0) { $0 + $1.samples } }
}
