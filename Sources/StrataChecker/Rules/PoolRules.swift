import StrataDiagnostics
import StrataSyntax

/// How each kind of layer changes the pool, with the settings that do it and
/// the diagnostics about them (the typing table of Grammar/README.md).
extension LayerWalk {
    mutating func checkPoolArithmetic(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout Pool) {
        draft.candidateTokensOut = pool.candidateTokens
        switch layer.kind {
        case .ensemble, .fuse: checkGeneratingPool(layer, &draft)
        case .critique:
            pool.critiqueFrom = layer.kindRange
            pool.critiqueRead = false
        case .rank: checkRankPool(layer, &draft)
        case .verify: checkVerifyPool(layer, &draft)
        case .unitTest: checkUnitTestPool(layer, &draft)
        case .vote: checkVotePool(layer, &draft)
        case .writeTests: break  // no candidates in, none out
        }
    }

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

    /// Unit-test keeps the candidates passing a test, the best `top_k` (or the first `first_k` passing all).
    mutating func checkUnitTestPool(_ layer: LayerSyntax, _ draft: inout LayerDraft) {
        let poolIn = draft.poolIn
        draft.topK = layer.topK?.value
        if let written = layer.topK, written.value > poolIn.max, poolIn.max > 0 {
            report(
                .topKExceedsPool, "'top_k' is \(written.value), but this layer receives at most \(candidates(poolIn.max))", at: written.range,
                fixIts: [.replace(written.range, with: "\(poolIn.max)")])
        }
        // first_k keeps the first k candidates passing every test when k of them do, else the top_k.
        draft.firstK = layer.firstK?.value
        let kept = min(max(draft.firstK ?? 0, draft.topK ?? poolIn.max), poolIn.max)
        draft.poolOut = filteredPool(poolIn, keptMax: kept, policy: layer.onEmpty?.value, kind: .unitTest)
    }

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

    func candidates(_ count: Int) -> String { count == 1 ? "1 candidate" : "\(count) candidates" }
}
