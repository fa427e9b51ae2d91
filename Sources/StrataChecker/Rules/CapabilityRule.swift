import StrataDiagnostics
import StrataSyntax

extension LayerWalk {
    /// Rule 7: capabilities. Layers that parse a model's judgement ask for
    /// JSON-schema output where the model can give it; `structured: always`
    /// on a model that does not declare it is an error (E023).
    mutating func checkCapabilities(_ layer: LayerSyntax, _ draft: inout LayerDraft) {
        guard !layer.kind.makesCandidates, let model = draft.entries.first.map({ resolver.models[$0.model] }) else { return }
        switch layer.structured?.value ?? .auto {
        case .auto: draft.structured = model.supportsJSONSchema
        case .never: draft.structured = false
        case .always:
            draft.structured = true
            if !model.supportsJSONSchema, let written = layer.structured {
                report(
                    .missingCapability, "'structured: always' asks for JSON-schema output, but model '\(model.name)' does not declare that capability",
                    at: written.range,
                    notes: [DiagnosticNote("declare 'capabilities: { json_schema: true }' on the model if its server supports it, or use 'structured: auto'")],
                    fixIts: [.replace(written.range, with: "auto")])
            }
        }
    }

    /// A vote that weighs or filters by confidence needs every model that wrote
    /// its candidates to return log-probabilities (E023); a consensus rule
    /// that counts agreement alone works, but cannot tell a confident sample
    /// from a guess (W049).
    mutating func checkConfidenceSources(_ layer: LayerSyntax, pool: Pool) {
        guard layer.kind == .vote else { return }
        let weighted = layer.weight?.value == .confidence
        let blind = Set(pool.writers).map { resolver.models[$0] }.filter { !$0.supportsLogprobs }.sorted { $0.name < $1.name }
        for setting in [layer.weight.flatMap { $0.value == .confidence ? ("weight: confidence", $0.range) : nil }, layer.keep.map { ("keep", $0.range) }] {
            guard let (name, range) = setting, let model = blind.first else { continue }
            report(
                .missingCapability,
                "'\(name)' reads each candidate's confidence, but model '\(model.name)', which wrote them, does not declare log-probabilities",
                at: range,
                notes: [
                    DiagnosticNote(
                        "declare 'capabilities: { logprobs: true }' on the model if its server returns logprobs (OpenAI, vLLM and llama.cpp's server do)"
                    )
                ])
        }
        if case .consensus? = layer.earlyStop?.value, !weighted, let rule = layer.earlyStop {
            report(
                .consensusCountsOnly, "'early_stop: consensus' counts agreement alone here, so a confident sample weighs no more than a guess",
                at: rule.range,
                notes: [DiagnosticNote("add 'weight: confidence' (the models must declare logprobs) to weigh each vote by its path probability")],
                fixIts: [])
        }
    }
}
