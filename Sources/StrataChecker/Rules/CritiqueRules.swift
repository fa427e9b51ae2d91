import StrataDiagnostics
import StrataSyntax

extension LayerWalk {
    /// Rule 3: critiques must be read by a later rank or fuse before another
    /// critique or a generating layer replaces them (W037).
    mutating func checkCritiquesRead(_ layer: LayerSyntax, pool: inout Pool) {
        let kind = layer.kind
        // A fuse reads them before dropping them.
        if kind == .critique || (kind.makesCandidates && kind != .fuse), let from = pool.critiqueFrom, !pool.critiqueRead {
            let what = kind == .critique ? "replaced by the critique layer" : "dropped by the \(kind.rawValue) layer"
            report(
                .critiqueUnread, "the critiques made here are never read", at: from,
                notes: [DiagnosticNote("they are \(what) here before any rank or fuse layer reads them", at: layer.kindRange)])
        }
        if kind.readsCritiques { pool.critiqueRead = true }
    }

    /// Rule 3, at the end: critiques the pipeline ends with are never read.
    mutating func checkCritiquesReadAtEnd(pool: Pool) {
        guard let from = pool.critiqueFrom, !pool.critiqueRead else { return }
        report(
            .critiqueUnread, "the critiques made here are never read", at: from,
            notes: [DiagnosticNote("the pipeline ends before a rank or fuse layer uses them; remove the critique layer or add one that reads critiques")])
    }
}
