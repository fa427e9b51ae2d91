import StrataDiagnostics
import StrataSyntax

/// The `write-tests` layer as later layers see it.
struct TestWriter {
    var mode: UnitTestMode
    /// The most its tests add to a prompt.
    var testTokens: Int
    var shows: Bool
    var range: SourceRange
    /// Whether a unit-test layer grades these tests.
    var graded = false
}

extension LayerWalk {
    /// A unit-test layer's tests come from a model, the dataset or the
    /// write-tests layer; a judge, or a model writing tests, needs a model; a
    /// dataset's tests are code to run; written tests are graded in the mode
    /// they were written in.
    mutating func checkTestSource(_ layer: LayerSyntax, _ draft: inout LayerDraft) {
        if layer.kind == .writeTests {
            // Only the first layer's tests reach the others; a misplaced writer is an E030 of its own.
            guard draft.index == 0 else { return }
            testWriter = TestWriter(
                mode: draft.mode, testTokens: TokenEstimate.tests(mode: draft.mode, count: layer.tests?.value ?? 5, writerOutput: draft.writeTestsOutput),
                shows: layer.show?.value ?? true, range: layer.kindRange)
            return
        }
        guard layer.kind == .unitTest else { return }
        if draft.testSource == .dataset, draft.mode == .judge, let source = layer.testSource {
            report(
                .unknownValue, "'test_source: dataset' needs 'mode: execute'", at: source.range,
                notes: [DiagnosticNote("a dataset's own tests are code to run, not statements for a judge")],
                fixIts: [.replace(source.range, with: "model")])
        }
        if draft.testSource == .written, let source = layer.testSource { checkWrittenTests(layer, source: source, &draft) }
        if draft.testSource != .model, let tests = layer.tests {
            report(
                .unknownKey, "'tests' sets how many tests this layer's model writes, but with 'test_source: \(draft.testSource.rawValue)' it writes none",
                at: tests.range,
                notes: [DiagnosticNote(draft.testSource == .written ? "set 'tests' on the write-tests layer" : "the dataset's tests are run as they are")])
        }
        let needsModel = draft.mode == .judge || draft.testSource == .model
        if needsModel, layer.entries.isEmpty {
            report(
                .missingKey, "the 'unit-test' layer names no model", at: layer.kindRange,
                notes: [
                    DiagnosticNote(
                        draft.mode == .judge
                            ? "judge mode needs a model to \(draft.testSource == .model ? "write and " : "")grade tests"
                            : "a model writes the tests unless 'test_source: dataset' or 'written'")
                ])
            draft.resolved = false
        }
    }

    mutating func checkWrittenTests(_ layer: LayerSyntax, source: Located<TestSource>, _ draft: inout LayerDraft) {
        guard var writer = testWriter else {
            report(
                .writtenTestsMissing, "'test_source: written' grades the tests of a write-tests layer, and this pipeline has none", at: source.range,
                notes: [DiagnosticNote("add '- write-tests: { model: NAME }' as the first layer, or let this layer write its own tests")],
                fixIts: [.replace(source.range, with: "model", message: "let this layer's model write the tests")])
            draft.resolved = false
            return
        }
        writer.graded = true
        testWriter = writer
        guard writer.mode != draft.mode else { return }
        let what = writer.mode == .execute ? "Python assertions to execute" : "statements for a judge"
        report(
            .writtenTestsMode, "the write-tests layer writes \(what), but this layer grades in \(draft.mode.rawValue) mode",
            at: layer.mode?.range ?? source.range,
            notes: [DiagnosticNote("the tests are written here", at: writer.range)],
            fixIts: layer.mode.map { [.replace($0.range, with: writer.mode.rawValue, message: "grade in \(writer.mode.rawValue) mode")] } ?? [])
        draft.resolved = false
    }

    /// Tests neither shown to the later layers nor graded cost a call for nothing (W048).
    mutating func checkWrittenTestsUsed() {
        guard let writer = testWriter, !writer.shows, !writer.graded else { return }
        report(
            .writtenTestsUnused, "these tests are neither shown to the later layers ('show: false') nor graded by a unit-test layer", at: writer.range,
            notes: [DiagnosticNote("remove 'show: false', add a unit-test layer with 'test_source: written', or remove this layer")])
    }
}
