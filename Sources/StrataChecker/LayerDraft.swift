import StrataDiagnostics
import StrataSyntax

/// One layer as the rules work it out, before it becomes a `CheckedLayer`.
struct LayerDraft {
    let layer: LayerSyntax
    let index: Int
    var kind: LayerKind { layer.kind }
    /// The pipeline's defaults with the layer's own sampling keys over them.
    let base: Sampling
    let poolIn: PoolRange
    var entries: [CheckedEntry] = []
    /// False once anything the layer names cannot be resolved.
    var resolved = true
    var prompts: [CallRole: String] = [:]
    var inputTokens: [CallRole: Int] = [:]
    var contextTokens: (pool: Int, candidate: Int) = (0, 0)
    var poolOut: PoolRange
    var candidateTokensOut = 0
    var topK: Int?
    var firstK: Int?
    var onFailure: FailurePolicy
    var structured = false
    /// `route`: its branches, checked.
    var branches: [CheckedBranch] = []

    init(layer: LayerSyntax, index: Int, defaults: Sampling, poolIn: PoolRange) {
        self.layer = layer
        self.index = index
        base = LayerWalk.apply(layer.sampling, to: defaults)
        self.poolIn = poolIn
        poolOut = poolIn
        onFailure = layer.onFailure?.value ?? FailurePolicy.defaultPolicy(for: layer.kind)
    }

    var mode: UnitTestMode { layer.mode?.value ?? .judge }
    var testSource: TestSource { layer.testSource?.value ?? .model }
    /// `max_tokens` of the layer's test writer (its own call's).
    var writeTestsOutput: Int { entries.first?.sampling.maxTokens ?? base.maxTokens }

    func checked(critiquesOut: Bool) -> CheckedLayer {
        CheckedLayer(
            index: index, kind: kind, entries: entries, poolIn: poolIn, poolOut: poolOut,
            candidateTokensOut: candidateTokensOut, critiquesOut: critiquesOut,
            topK: topK, firstK: firstK, lengthControl: layer.lengthControl?.value ?? false,
            onEmpty: layer.onEmpty?.value, mode: kind == .unitTest || kind == .writeTests ? mode : nil, tests: layer.tests?.value ?? 5,
            testSource: kind == .unitTest ? testSource : nil, showsTests: kind == .writeTests && (layer.show?.value ?? true),
            structuredOutput: structured,
            onMalformed: layer.onMalformed?.value ?? .passThrough,
            onFailure: onFailure, timeoutSeconds: layer.timeoutSeconds?.value ?? 10,
            memoryMB: layer.memoryMB?.value ?? 512, extractor: kind == .vote ? layer.extractor?.value ?? .numeric : nil,
            earlyStop: kind == .vote ? layer.earlyStop?.value : nil, wave: layer.wave?.value,
            weight: kind == .vote ? layer.weight?.value ?? .count : nil, keep: kind == .vote ? layer.keep?.value : nil,
            quorum: kind == .ensemble ? layer.quorum.map { min($0.value, poolOut.max) } : nil, prompts: prompts, inputTokens: inputTokens,
            poolContextTokens: contextTokens.pool, candidateContextTokens: contextTokens.candidate,
            range: layer.range, route: kind == .route ? layer.routeRule?.value : nil, branches: branches)
    }
}
