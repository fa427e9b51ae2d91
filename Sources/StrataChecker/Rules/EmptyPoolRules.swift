import StrataDiagnostics
import StrataSyntax

extension LayerWalk {
    /// Rule 5: a layer that needs candidates after one that can leave none (E034).
    mutating func checkReachesCandidates(_ layer: LayerSyntax, index: Int, pool: Pool) {
        guard index > 0, pool.range.min == 0, let (emptyKind, emptyRange) = pool.emptiedBy else { return }
        report(
            .possiblyEmptyPool, "this \(layer.kind.rawValue) layer can receive no candidates", at: layer.kindRange,
            notes: [
                DiagnosticNote("this \(emptyKind.rawValue) layer can reject every candidate", at: emptyRange),
                DiagnosticNote("add 'on_empty: keep-all' (pass its input on) or 'on_empty: fail' to that layer"),
            ])
    }

    /// Rule 5, at the end: the last layer must leave a candidate (E035), and
    /// more than one is a warning (W036): the first one is the answer.
    mutating func checkFinalPool(_ last: LayerSyntax, pool: Pool) {
        if pool.range.min == 0 {
            var notes: [DiagnosticNote] = []
            if let (kind, range) = pool.emptiedBy {
                notes.append(DiagnosticNote("this \(kind.rawValue) layer can reject every candidate", at: range))
            }
            notes.append(DiagnosticNote("declare a fallback with 'on_empty: keep-all' (pass its input on) or 'on_empty: fail'"))
            report(.finalPoolMayBeEmpty, "the pipeline can end with no answer", at: last.kindRange, notes: notes)
        } else if pool.range.max > 1 {
            report(
                .finalPoolMultiple, "the last layer can leave \(pool.range) candidates; the first one is the answer", at: last.kindRange,
                notes: [DiagnosticNote("end with a fuse layer of one model, or a rank/unit-test layer with 'top_k: 1', to choose deliberately")])
        }
    }

    /// A fallback passes on candidates the layer was given, so later prompts
    /// must have room for them (like any failed call, it is not counted in the
    /// lower bound of the pool). Which layer can leave the pool empty is
    /// remembered for rule 5; `on_empty` belongs to the filtering layers only.
    mutating func applyFallback(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout Pool) {
        if draft.onFailure != .fail, draft.poolIn.max > 0 {
            if draft.onFailure == .passThrough { draft.poolOut.max = max(draft.poolOut.max, draft.poolIn.max) }
            draft.candidateTokensOut = max(draft.candidateTokensOut, pool.candidateTokens)
        }
        let kind = layer.kind
        if kind == .verify || kind == .unitTest, draft.poolOut.min == 0 {
            pool.emptiedBy = (kind, layer.kindRange)
        } else if draft.poolOut.min > 0 {
            pool.emptiedBy = nil
        }
        if kind != .verify, kind != .unitTest, let onEmpty = layer.onEmpty {
            report(.unknownKey, "'on_empty' only applies to verify and unit-test layers", at: onEmpty.range)
        }
    }

    /// The pool out of a filtering layer (verify, unit-test).
    func filteredPool(_ poolIn: PoolRange, keptMax: Int, policy: EmptyPolicy?, kind: LayerKind) -> PoolRange {
        switch policy {
        case nil: return PoolRange(0, keptMax)
        // A query that reaches the next layer has at least one candidate.
        case .fail: return PoolRange(min(1, keptMax), keptMax)
        case .keepAll:
            // verify passes its whole input on when nothing is correct; unit-test
            // keeps everything, sorted, and still cuts to top_k.
            return kind == .verify ? PoolRange(min(1, poolIn.min), poolIn.max) : PoolRange(min(keptMax, poolIn.min), keptMax)
        }
    }
}
