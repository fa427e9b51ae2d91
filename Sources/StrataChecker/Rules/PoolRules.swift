import StrataDiagnostics
import StrataSyntax

/// How each kind of layer changes the pool (the typing table of
/// Grammar/README.md): its kind's typing sets the pool it yields.
extension LayerWalk {
    mutating func checkPoolArithmetic(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout Pool) {
        draft.candidateTokensOut = pool.candidateTokens
        LayerTypings.typing(for: layer.kind).checkPool(layer, &draft, pool: &pool, walk: &self)
    }

    func candidates(_ count: Int) -> String { count == 1 ? "1 candidate" : "\(count) candidates" }
}
