import StrataDiagnostics
import StrataSyntax

/// What the checker knows of one kind of layer — its prompts, the input
/// tokens of its calls, how it changes the pool, how many calls it makes —
/// found by kind (as swift-format finds its rules): a new kind of layer adds
/// its type to `LayerTypings.all`. The rules that hold for every kind
/// (placement, critiques, context windows, capabilities) stay in `Rules/`.
protocol LayerTyping: Sendable {
    var kinds: [LayerKind] { get }
    /// The role of the layer's first (or only) call, whose prompt an entry may override.
    var mainRole: CallRole? { get }
    /// The templates of its prompts: the main one, and a second (verify's verdict, a judge's grading).
    func templates(_ draft: LayerDraft) -> (main: PromptTemplate?, second: (role: CallRole, template: PromptTemplate)?)
    /// Why a prompt written on the layer is never used, when it is not.
    func unusedPrompt(_ draft: LayerDraft) -> String?
    /// Worst-case prompt tokens of each of its calls.
    func inputTokens(_ draft: LayerDraft, _ sizes: PromptSizes) -> [CallRole: Int]
    /// Sets the pool it yields, reporting what is wrong with the settings that decide it.
    func checkPool(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout LayerWalk.Pool, walk: inout LayerWalk)
    /// Its calls per query at worst.
    func worstCaseCalls(_ layer: CheckedLayer) -> Int
}

extension LayerTyping {
    func unusedPrompt(_ draft: LayerDraft) -> String? { nil }
}

/// What a layer's prompts carry besides their fixed text, for the token estimates.
struct PromptSizes {
    /// The query as the test writer and the judge see it, and as every other call does (with shown tests).
    let rawQuery: Int
    let query: Int
    /// The incoming pool, quoted in full.
    let embedded: Int
    let candidateTokens: Int
    /// The tests a `test_source: written` grader sees.
    let writtenTests: Int
    /// The fixed text of a role's prompt (the longest of the layer's and its entries' own).
    let fixed: (CallRole) -> Int
}

enum LayerTypings {
    static let all: [any LayerTyping] = [
        EnsembleTyping(), FuseTyping(), CritiqueTyping(), RankTyping(), VerifyTyping(), VoteTyping(), WriteTestsTyping(), UnitTestTyping(), RouteTyping(),
    ]

    private static let byKind: [LayerKind: any LayerTyping] = Dictionary(
        all.flatMap { typing in typing.kinds.map { ($0, typing) } }, uniquingKeysWith: { first, _ in first })

    static func typing(for kind: LayerKind) -> any LayerTyping {
        guard let typing = byKind[kind] else { preconditionFailure("no typing for layer kind \(kind): add its type to LayerTypings.all") }
        return typing
    }
}
