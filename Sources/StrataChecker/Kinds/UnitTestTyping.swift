import StrataDiagnostics
import StrataSyntax

/// `unit-test`: tests (written by its model, a `write-tests` layer's, or the
/// dataset's), each candidate graded by the sandbox or a judge; the best by
/// tests passed go on.
struct UnitTestTyping: LayerTyping {
    var kinds: [LayerKind] { [.unitTest] }
    var mainRole: CallRole? { .writeTests }

    func templates(_ draft: LayerDraft) -> (main: PromptTemplate?, second: (role: CallRole, template: PromptTemplate)?) {
        let main: PromptTemplate? = draft.testSource != .model ? nil : draft.mode == .execute ? .writeExecutableTests : .writeJudgeTests
        return (main, draft.mode == .judge ? (.judgeTests, .judgeTests) : nil)
    }

    func unusedPrompt(_ draft: LayerDraft) -> String? {
        draft.testSource == .model ? nil : "this layer writes no tests ('test_source: \(draft.testSource.rawValue)'), so this prompt is never used"
    }

    func inputTokens(_ draft: LayerDraft, _ sizes: PromptSizes) -> [CallRole: Int] {
        var tokens: [CallRole: Int] = [:]
        if draft.testSource == .model { tokens[.writeTests] = sizes.fixed(.writeTests) + sizes.rawQuery }
        let tests =
            draft.testSource == .written
            ? sizes.writtenTests : TokenEstimate.tests(mode: draft.mode, count: draft.layer.tests?.value ?? 5, writerOutput: draft.writeTestsOutput)
        if draft.mode == .judge { tokens[.judgeTests] = sizes.fixed(.judgeTests) + sizes.rawQuery + sizes.candidateTokens + tests }
        return tokens
    }

    func checkPool(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout LayerWalk.Pool, walk: inout LayerWalk) {
        walk.checkUnitTestPool(layer, &draft)
    }

    func worstCaseCalls(_ layer: CheckedLayer) -> Int { (layer.testSource == .model ? 1 : 0) + (layer.mode == .judge ? layer.poolIn.max : 0) }
}

extension LayerWalk {
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
}
