import StrataDiagnostics
import StrataSyntax

extension LayerWalk {
    /// A unit-test layer's tests come from a model or the dataset; a judge, or
    /// a model writing tests, needs a model; a dataset's tests are code to run.
    mutating func checkTestSource(_ layer: LayerSyntax, _ draft: inout LayerDraft) {
        guard layer.kind == .unitTest else { return }
        if draft.testSource == .dataset, draft.mode == .judge, let source = layer.testSource {
            report(
                .unknownValue, "'test_source: dataset' needs 'mode: execute'", at: source.range,
                notes: [DiagnosticNote("a dataset's own tests are code to run, not statements for a judge")],
                fixIts: [.replace(source.range, with: "model")])
        }
        let needsModel = draft.mode == .judge || draft.testSource == .model
        if needsModel, layer.entries.isEmpty {
            report(
                .missingKey, "the 'unit-test' layer names no model", at: layer.kindRange,
                notes: [
                    DiagnosticNote(
                        draft.mode == .judge
                            ? "judge mode needs a model to write and grade tests"
                            : "a model writes the tests unless 'test_source: dataset'")
                ])
            draft.resolved = false
        }
    }
}
