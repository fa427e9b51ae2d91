import StrataDiagnostics
import StrataSyntax

/// The type checker: resolves models and defaults, tracks pool sizes through
/// the layers, and enforces the composition rules of Grammar/README.md.
package enum PipelineChecker {
    /// The most LLM calls per query Strata compiles; a pipeline past this is a typo.
    package static let maxCallsPerQuery = 1_000_000
    /// Archon's fuser limit.
    package static let largeFuseThreshold = 24

    /// Checks a loaded pipeline. The result's pipeline is nil when the layers
    /// cannot be resolved at all; diagnostics are every problem found.
    ///
    /// With `allowModelsFile`, a file with no `layers:` key that declares models
    /// or defaults is accepted as a file for pipelines to include.
    package static func check(_ loaded: LoadedPipeline, allowModelsFile: Bool = false) -> (CheckedPipeline?, [Diagnostic]) {
        var walk = LayerWalk(main: loaded.main, allowModelsFile: allowModelsFile)
        walk.resolveModels(included: loaded.included)
        walk.resolveDefaults(included: loaded.included)
        walk.resolveBudget()
        let layers = walk.checkLayers()
        walk.reportUnusedModels()
        let pipeline = layers.map {
            CheckedPipeline(
                file: loaded.main.file, name: loaded.main.name?.value, models: walk.resolver.models,
                layers: $0, budget: walk.budget)
        }
        return (pipeline, walk.resolver.diagnostics + walk.diagnostics)
    }
}

/// One checking pass over a pipeline's layers.
struct LayerWalk {
    let main: PipelineSyntax
    let allowModelsFile: Bool
    var resolver = ModelResolver()
    var diagnostics: [Diagnostic] = []
    var defaults = Sampling.builtIn
    var budget = Budget(queryTokens: Budget.defaultQueryTokens, ranges: [:])
    var usedModels: Set<String> = []
    /// The pipeline's write-tests layer, once the walk has passed it.
    var testWriter: TestWriter?

    init(main: PipelineSyntax, allowModelsFile: Bool) {
        self.main = main
        self.allowModelsFile = allowModelsFile
    }

    mutating func report(
        _ code: DiagnosticCode, _ message: String, at range: SourceRange,
        notes: [DiagnosticNote] = [], fixIts: [FixIt] = []
    ) {
        diagnostics.append(Diagnostic(code, message, at: range, notes: notes, fixIts: fixIts))
    }

    mutating func resolveModels(included: [PipelineSyntax]) {
        for file in included + [main] {
            for model in file.models { resolver.add(model) }
        }
    }

    /// Included defaults apply in include order; the pipeline's own win.
    mutating func resolveDefaults(included: [PipelineSyntax]) {
        for file in included + [main] {
            defaults = Self.apply(file.defaults, to: defaults)
        }
    }

    static func apply(_ syntax: SamplingSyntax, to base: Sampling) -> Sampling {
        Sampling(
            temperature: syntax.temperature?.value ?? base.temperature,
            maxTokens: syntax.maxTokens?.value ?? base.maxTokens,
            topP: syntax.topP?.value ?? base.topP,
            seed: syntax.seed?.value ?? base.seed)
    }

    mutating func resolveBudget() {
        guard let syntax = main.budget else { return }
        budget.calls = syntax.calls?.value
        budget.inputTokens = syntax.inputTokens?.value
        budget.outputTokens = syntax.outputTokens?.value
        budget.usd = syntax.usd?.value
        budget.latencySeconds = syntax.latencySeconds?.value
        budget.queryTokens = syntax.queryTokens?.value ?? Budget.defaultQueryTokens
        let pairs: [(String, SourceRange?)] = [
            ("calls", syntax.calls?.range), ("input_tokens", syntax.inputTokens?.range),
            ("output_tokens", syntax.outputTokens?.range), ("usd", syntax.usd?.range),
            ("latency_s", syntax.latencySeconds?.range),
        ]
        for case let (key, range?) in pairs { budget.ranges[key] = range }
    }

    mutating func reportUnusedModels() {
        guard !main.layers.isEmpty else { return }  // a models file declares for others
        for model in main.models where !usedModels.contains(model.name.value) && resolver.index[model.name.value] != nil {
            report(
                .unusedModel, "model '\(model.name.value)' is declared but no layer uses it", at: model.name.range,
                notes: [DiagnosticNote("remove it, or move shared declarations to a file that pipelines include")])
        }
    }

    /// Resolves an entry's model; nil (after reporting) when it is not declared.
    mutating func resolve(_ entry: EntrySyntax, samplingBase: Sampling) -> CheckedEntry? {
        let name = entry.model.value
        usedModels.insert(name)
        guard let index = resolver.index[name] else {
            if resolver.declaredAt[name] != nil { return nil }  // declared but broken: reported already
            var fixIts: [FixIt] = []
            var message = "model '\(name)' is not declared"
            if let suggestion = Suggestions.closest(to: name, in: resolver.declaredAt.keys.sorted()) {
                message += "; did you mean '\(suggestion)'?"
                fixIts.append(.replace(entry.model.range, with: suggestion, message: "replace '\(name)' with '\(suggestion)'"))
            }
            let declared = resolver.declaredAt.keys.sorted()
            report(
                .undeclaredModel, message, at: entry.model.range,
                notes: [
                    DiagnosticNote(
                        declared.isEmpty
                            ? "no models are declared; add them under 'models:' or include a models file"
                            : "declared models: \(declared.joined(separator: ", "))")
                ],
                fixIts: fixIts)
            return nil
        }
        return CheckedEntry(model: index, samples: entry.samples?.value ?? 1, sampling: Self.apply(entry.sampling, to: samplingBase))
    }

    /// The pool flowing between layers.
    struct Pool {
        var range: PoolRange
        var candidateTokens: Int
        /// Tokens of the critique text attached to the pool (0 when none).
        var critiqueTokens: Int
        /// The critique layer whose critiques are attached, and whether anything read them yet.
        var critiqueFrom: SourceRange?
        var critiqueRead = false
        /// The layer that can leave the pool empty, if any.
        var emptiedBy: (LayerKind, SourceRange)?
        /// The models that wrote the pool's candidates (the last ensemble's or fuse's).
        var writers: [Int] = []
    }

    /// Checks the layers in order; `noLayersAt` is where an empty list is
    /// reported (a route's branch), when not at the file's `layers:` key.
    mutating func checkLayers(noLayersAt: SourceRange? = nil) -> [CheckedLayer]? {
        if main.layers.isEmpty, let noLayersAt {
            report(
                .noLayers, "the branch has no layers", at: noLayersAt,
                notes: [DiagnosticNote("a branch starts with an ensemble layer, e.g. '[ { ensemble: [ { model: NAME, samples: 3 } ] } ]'")])
            return nil
        }
        if main.layers.isEmpty {
            // A file of shared models and defaults (no 'layers:' key) is complete as it is.
            let isModelsFile =
                allowModelsFile && main.topLevelKeys["layers"] == nil
                && (!main.models.isEmpty || main.topLevelKeys["defaults"] != nil)
            if !isModelsFile {
                report(
                    .noLayers, "the pipeline has no layers", at: main.topLevelKeys["layers"] ?? .startOf(main.file),
                    notes: [DiagnosticNote("a pipeline starts with an ensemble layer, e.g. 'layers: [ { ensemble: [ { model: NAME, samples: 5 } ] } ]'")])
            }
            return nil
        }
        var layers: [CheckedLayer] = []
        var pool = Pool(range: PoolRange(0, 0), candidateTokens: 0, critiqueTokens: 0)
        var resolvable = true
        var ensembleRange: SourceRange?
        for (index, layer) in main.layers.enumerated() {
            let placement = checkPlacement(layer, index: index, ensembleRange: &ensembleRange)
            if placement != .placed { resolvable = false }
            if placement == .duplicate { continue }
            guard let checked = checkLayer(layer, index: index, pool: &pool) else {
                resolvable = false
                continue
            }
            layers.append(checked)
        }
        checkCritiquesReadAtEnd(pool: pool)
        checkWrittenTestsUsed()
        // A route's branches have had their own final pools checked.
        if let last = main.layers.last, resolvable, last.kind != .route { checkFinalPool(last, pool: pool) }
        if resolvable, let total = Optional(layers.reduce(0) { $0 + Self.worstCaseCalls($1) }), total > PipelineChecker.maxCallsPerQuery {
            report(
                .tooManyCalls, "the pipeline expands to \(total) calls per query, more than the \(PipelineChecker.maxCallsPerQuery) Strata compiles",
                at: main.layers[0].kindRange)
            return nil
        }
        return resolvable ? layers : nil
    }

    static func worstCaseCalls(_ layer: CheckedLayer) -> Int { LayerTypings.typing(for: layer.kind).worstCaseCalls(layer) }

    /// Checks one layer against the incoming pool and advances the pool: each
    /// composition rule in turn (the rules live in `Rules/`, one file each).
    mutating func checkLayer(_ layer: LayerSyntax, index: Int, pool: inout Pool) -> CheckedLayer? {
        var draft = LayerDraft(layer: layer, index: index, defaults: defaults, poolIn: pool.range)
        resolveEntries(layer, into: &draft)
        checkTestSource(layer, &draft)
        checkReachesCandidates(layer, index: index, pool: pool)
        checkCritiquesRead(layer, pool: &pool)
        checkPrompts(layer, &draft)
        estimateInputTokens(&draft, pool: pool)
        checkPoolArithmetic(layer, &draft, pool: &pool)
        applyFallback(layer, &draft, pool: &pool)
        checkContextWindows(layer, draft, pool: pool)
        checkCapabilities(layer, &draft)
        checkConfidenceSources(layer, pool: pool)
        advance(&pool, past: draft)
        return draft.resolved ? draft.checked(critiquesOut: pool.critiqueFrom != nil) : nil
    }

    /// Resolves the layer's entries; an undeclared model leaves the layer unresolved.
    mutating func resolveEntries(_ layer: LayerSyntax, into draft: inout LayerDraft) {
        for entry in layer.entries {
            if let checked = resolve(entry, samplingBase: draft.kind.makesCandidates ? defaults : draft.base) {
                draft.entries.append(checked)
            } else {
                draft.resolved = false
            }
        }
        // Only unit-test may run without a model (dataset or written tests, execute mode); that case is its own rule.
        if draft.kind != .unitTest, !draft.kind.callsNoModel, layer.entries.isEmpty { draft.resolved = false }
    }

    /// What the layer hands the next: the pool's size, candidate and critique sizes.
    func advance(_ pool: inout Pool, past draft: LayerDraft) {
        if draft.kind == .critique {
            pool.critiqueTokens = draft.entries.first?.sampling.maxTokens ?? draft.base.maxTokens
        } else if draft.kind.makesCandidates {
            pool.critiqueTokens = 0
            pool.critiqueFrom = nil
            pool.critiqueRead = false
            pool.writers = draft.entries.map(\.model)
        }
        pool.range = draft.poolOut
        pool.candidateTokens = draft.candidateTokensOut
    }
}
