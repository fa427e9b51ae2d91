import StrataDiagnostics
import StrataSyntax

/// `write-tests`: one call writes tests on the query alone; no candidates in, none out.
struct WriteTestsTyping: LayerTyping {
    var kinds: [LayerKind] { [.writeTests] }
    var mainRole: CallRole? { .writeTests }

    func templates(_ draft: LayerDraft) -> (main: PromptTemplate?, second: (role: CallRole, template: PromptTemplate)?) {
        (draft.mode == .execute ? .writeExecutableTests : .writeJudgeTests, nil)
    }

    func inputTokens(_ draft: LayerDraft, _ sizes: PromptSizes) -> [CallRole: Int] { [.writeTests: sizes.fixed(.writeTests) + sizes.rawQuery] }

    func checkPool(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout LayerWalk.Pool, walk: inout LayerWalk) {}

    func worstCaseCalls(_ layer: CheckedLayer) -> Int { 1 }
}
