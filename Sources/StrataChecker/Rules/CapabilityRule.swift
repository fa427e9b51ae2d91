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
}
