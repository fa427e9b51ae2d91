import StrataDiagnostics
import StrataSyntax

extension LayerWalk {
    /// Rule 6: every call's worst-case prompt plus its output must fit its
    /// model's context window (E039).
    mutating func checkContextWindows(_ layer: LayerSyntax, _ draft: LayerDraft, pool: Pool) {
        for entry in draft.entries {
            let model = resolver.models[entry.model]
            for (role, input) in draft.inputTokens.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                let output = role == .writeTests ? draft.writeTestsOutput : entry.sampling.maxTokens
                guard input + output > model.contextWindow else { continue }
                report(
                    .contextOverflow,
                    "a \(role.rawValue) call can need \(input) prompt tokens + \(output) output tokens, more than \(model.name)'s context window of \(model.contextWindow)",
                    at: layer.kindRange,
                    notes: [
                        DiagnosticNote(
                            "the prompt embeds up to \(draft.poolIn.max) candidates of up to \(pool.candidateTokens) tokens each\(pool.critiqueTokens > 0 ? " and their critiques" : "")"
                        ),
                        DiagnosticNote("rank to fewer candidates first, lower the upstream 'max_tokens', or use a model with a larger 'context_window'"),
                    ])
                break
            }
        }
    }
}
