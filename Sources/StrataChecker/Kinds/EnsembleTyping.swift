import StrataDiagnostics
import StrataSyntax

/// `ensemble`: samples from each entry's model; its calls see the query alone.
struct EnsembleTyping: LayerTyping {
    var kinds: [LayerKind] { [.ensemble] }
    var mainRole: CallRole? { .generate }

    func templates(_ draft: LayerDraft) -> (main: PromptTemplate?, second: (role: CallRole, template: PromptTemplate)?) { (.generate, nil) }

    func inputTokens(_ draft: LayerDraft, _ sizes: PromptSizes) -> [CallRole: Int] { [.generate: sizes.fixed(.generate) + sizes.query] }

    func checkPool(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout LayerWalk.Pool, walk: inout LayerWalk) {
        walk.checkGeneratingPool(layer, &draft)
    }

    func worstCaseCalls(_ layer: CheckedLayer) -> Int { layer.entries.reduce(0) { $0 + $1.samples } }
}

extension LayerWalk {
    /// Ensemble and fuse: their samples, or the quorum (E045); samples at
    /// temperature 0 are identical (W040); a fuse of too many candidates (W038).
    mutating func checkGeneratingPool(_ layer: LayerSyntax, _ draft: inout LayerDraft) {
        // Counted from the entries as written, so an undeclared model does not shrink the pool and cascade.
        let total = layer.entries.reduce(0) { $0 + ($1.samples?.value ?? 1) }
        draft.poolOut = PoolRange(total, total)
        if let quorum = layer.quorum {
            if quorum.value > total {
                report(
                    .quorumExceedsSamples, "'quorum' is \(quorum.value), but the ensemble draws \(total) sample\(total == 1 ? "" : "s")", at: quorum.range,
                    notes: [DiagnosticNote("the quorum is how many samples to wait for before cancelling the rest")],
                    fixIts: [.replace(quorum.range, with: "\(total)")])
            } else {
                draft.poolOut = PoolRange(quorum.value, quorum.value)
            }
        }
        draft.candidateTokensOut = draft.entries.map(\.sampling.maxTokens).max() ?? 0
        for syntax in layer.entries {
            let samples = syntax.samples?.value ?? 1
            guard samples > 1, (syntax.sampling.temperature?.value ?? defaults.temperature) == 0 else { continue }
            report(
                .identicalSamples, "\(samples) samples at temperature 0 will all be the same answer", at: syntax.samples?.range ?? syntax.range,
                notes: [DiagnosticNote("greedy decoding ignores the seed; raise 'temperature' or use 'samples: 1'")])
        }
        let n = draft.poolIn.max
        if layer.kind == .fuse, n > PipelineChecker.largeFuseThreshold {
            report(
                .largeFuse, "up to \(n) candidates go into each fuse call; fusers degrade past \(PipelineChecker.largeFuseThreshold)", at: layer.kindRange,
                notes: [DiagnosticNote("put a rank layer with 'top_k' of \(PipelineChecker.largeFuseThreshold) or fewer before the fuse")])
        }
    }
}
