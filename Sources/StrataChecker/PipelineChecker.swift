import StrataDiagnostics
import StrataSyntax

/// The type checker: resolves models and defaults, tracks pool sizes through
/// the layers, and enforces the composition rules of semantics.md.
public enum PipelineChecker {
    /// The most LLM calls per query Strata compiles; a pipeline past this is a typo.
    public static let maxCallsPerQuery = 1_000_000
    /// Archon's fuser limit.
    public static let largeFuseThreshold = 24

    /// Checks a loaded pipeline. The result's pipeline is nil when the layers
    /// cannot be resolved at all; diagnostics are every problem found.
    ///
    /// With `allowModelsFile`, a file with no `layers:` key that declares models
    /// or defaults is accepted as a file for pipelines to include.
    public static func check(_ loaded: LoadedPipeline, allowModelsFile: Bool = false) -> (CheckedPipeline?, [Diagnostic]) {
        var walk = LayerWalk(main: loaded.main, allowModelsFile: allowModelsFile)
        walk.resolveModels(included: loaded.included)
        walk.resolveDefaults(included: loaded.included)
        walk.resolveBudget()
        let layers = walk.checkLayers()
        walk.reportUnusedModels()
        let pipeline = layers.map {
            CheckedPipeline(file: loaded.main.file, name: loaded.main.name?.value, models: walk.resolver.models,
                            layers: $0, budget: walk.budget)
        }
        return (pipeline, walk.resolver.diagnostics + walk.diagnostics)
    }
}

/// One checking pass over a pipeline's layers.
private struct LayerWalk {
    let main: PipelineSyntax
    let allowModelsFile: Bool
    var resolver = ModelResolver()
    var diagnostics: [Diagnostic] = []
    var defaults = Sampling.builtIn
    var budget = Budget(queryTokens: Budget.defaultQueryTokens, ranges: [:])
    var usedModels: Set<String> = []

    init(main: PipelineSyntax, allowModelsFile: Bool) {
        self.main = main
        self.allowModelsFile = allowModelsFile
    }

    mutating func report(_ code: DiagnosticCode, _ message: String, at range: SourceRange,
                         notes: [DiagnosticNote] = [], fixIts: [FixIt] = []) {
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
        Sampling(temperature: syntax.temperature?.value ?? base.temperature,
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
            report(.unusedModel, "model '\(model.name.value)' is declared but no layer uses it", at: model.name.range,
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
            report(.undeclaredModel, message, at: entry.model.range,
                   notes: [DiagnosticNote(declared.isEmpty ? "no models are declared; add them under 'models:' or include a models file"
                                                           : "declared models: \(declared.joined(separator: ", "))")],
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
    }

    mutating func checkLayers() -> [CheckedLayer]? {
        if main.layers.isEmpty {
            // A file of shared models and defaults (no 'layers:' key) is complete as it is.
            let isModelsFile = allowModelsFile && main.topLevelKeys["layers"] == nil
                && (!main.models.isEmpty || main.topLevelKeys["defaults"] != nil)
            if !isModelsFile {
                report(.noLayers, "the pipeline has no layers", at: main.topLevelKeys["layers"] ?? .startOf(main.file),
                       notes: [DiagnosticNote("a pipeline starts with an ensemble layer, e.g. 'layers: [ { ensemble: [ { model: NAME, samples: 5 } ] } ]'")])
            }
            return nil
        }
        var layers: [CheckedLayer] = []
        var pool = Pool(range: PoolRange(0, 0), candidateTokens: 0, critiqueTokens: 0)
        var resolvable = true
        var ensembleRange: SourceRange?
        for (index, layer) in main.layers.enumerated() {
            // Rule 1: ensemble exactly once, first.
            if layer.kind == .ensemble {
                if let first = ensembleRange {
                    report(.ensemblePlacement, "a pipeline has one ensemble layer, and it comes first", at: layer.kindRange,
                           notes: [DiagnosticNote("the ensemble layer is here", at: first),
                                   DiagnosticNote("to generate more candidates later, use a 'fuse' layer; to add models, list them in the first ensemble")])
                    resolvable = false
                    continue
                }
                ensembleRange = layer.kindRange
                if index != 0 {
                    report(.ensemblePlacement, "the ensemble layer must be the first layer", at: layer.kindRange,
                           notes: [DiagnosticNote("the pipeline starts here instead", at: main.layers[0].kindRange)])
                    resolvable = false
                }
            } else if index == 0 {
                report(.ensemblePlacement, "the first layer must be an ensemble, not '\(layer.kind.rawValue)'", at: layer.kindRange,
                       notes: [DiagnosticNote("a '\(layer.kind.rawValue)' layer needs candidates; an ensemble layer makes them from the query")])
                resolvable = false
            }
            if let earlyStop = layer.earlyStop, index == 0 || main.layers[index - 1].kind != .ensemble {
                report(.earlyStopPlacement, "'early_stop' needs the vote to come right after the ensemble, whose samples it draws in waves",
                       at: earlyStop.range, notes: [DiagnosticNote("move the vote up, or remove 'early_stop' to count every candidate")])
            } else if let earlyStop = layer.earlyStop, let quorum = main.layers[index - 1].quorum {
                report(.earlyStopPlacement, "'early_stop' draws the ensemble's samples in order, which a quorum (first to arrive) contradicts",
                       at: earlyStop.range, notes: [DiagnosticNote("the ensemble's quorum is here; keep one of the two", at: quorum.range)])
            }
            guard let checked = checkLayer(layer, index: index, pool: &pool) else {
                resolvable = false
                continue
            }
            layers.append(checked)
        }
        if let from = pool.critiqueFrom, !pool.critiqueRead {
            report(.critiqueUnread, "the critiques made here are never read", at: from,
                   notes: [DiagnosticNote("the pipeline ends before a rank or fuse layer uses them; remove the critique layer or add one that reads critiques")])
        }
        if let last = main.layers.last, resolvable {
            if pool.range.min == 0 {
                var notes: [DiagnosticNote] = []
                if let (kind, range) = pool.emptiedBy {
                    notes.append(DiagnosticNote("this \(kind.rawValue) layer can reject every candidate", at: range))
                }
                notes.append(DiagnosticNote("declare a fallback with 'on_empty: keep-all' (pass its input on) or 'on_empty: fail'"))
                report(.finalPoolMayBeEmpty, "the pipeline can end with no answer", at: last.kindRange, notes: notes)
            } else if pool.range.max > 1 {
                report(.finalPoolMultiple, "the last layer can leave \(pool.range) candidates; the first one is the answer", at: last.kindRange,
                       notes: [DiagnosticNote("end with a fuse layer of one model, or a rank/unit-test layer with 'top_k: 1', to choose deliberately")])
            }
        }
        if resolvable, let total = Optional(layers.reduce(0) { $0 + Self.worstCaseCalls($1) }), total > PipelineChecker.maxCallsPerQuery {
            report(.tooManyCalls, "the pipeline expands to \(total) calls per query, more than the \(PipelineChecker.maxCallsPerQuery) Strata compiles",
                   at: main.layers[0].kindRange)
            return nil
        }
        return resolvable ? layers : nil
    }

    static func worstCaseCalls(_ layer: CheckedLayer) -> Int {
        let n = layer.poolIn.max
        switch layer.kind {
        case .ensemble, .fuse: return layer.entries.reduce(0) { $0 + $1.samples }
        case .critique, .rank: return 1
        case .verify: return 2 * n
        case .unitTest:
            return (layer.testSource == .dataset ? 0 : 1) + (layer.mode == .judge ? n : 0)
        case .vote: return 0
        }
    }

    /// Checks one layer against the incoming pool and advances the pool.
    mutating func checkLayer(_ layer: LayerSyntax, index: Int, pool: inout Pool) -> CheckedLayer? {
        let kind = layer.kind
        let base = Self.apply(layer.sampling, to: defaults)
        var entries: [CheckedEntry] = []
        var resolved = true
        for entry in layer.entries {
            if let checked = resolve(entry, samplingBase: kind.makesCandidates ? defaults : base) {
                entries.append(checked)
            } else {
                resolved = false
            }
        }
        // Only unit-test may run without a model (dataset tests, execute mode); that case is checked below.
        if kind != .unitTest, !kind.callsNoModel, layer.entries.isEmpty { resolved = false }
        let poolIn = pool.range
        let modeValue = layer.mode?.value ?? .judge
        let testSource = layer.testSource?.value ?? .model
        if kind == .unitTest {
            if testSource == .dataset, modeValue == .judge, let source = layer.testSource {
                report(.unknownValue, "'test_source: dataset' needs 'mode: execute'", at: source.range,
                       notes: [DiagnosticNote("a dataset's own tests are code to run, not statements for a judge")],
                       fixIts: [.replace(source.range, with: "model")])
            }
            let needsModel = modeValue == .judge || testSource == .model
            if needsModel, layer.entries.isEmpty {
                report(.missingKey, "the 'unit-test' layer names no model", at: layer.kindRange,
                       notes: [DiagnosticNote(modeValue == .judge ? "judge mode needs a model to write and grade tests"
                                                                  : "a model writes the tests unless 'test_source: dataset'")])
                resolved = false
            }
        }

        // Rule 5: a layer that needs candidates after one that can leave none.
        if index > 0, poolIn.min == 0, let (emptyKind, emptyRange) = pool.emptiedBy {
            report(.possiblyEmptyPool, "this \(kind.rawValue) layer can receive no candidates", at: layer.kindRange,
                   notes: [DiagnosticNote("this \(emptyKind.rawValue) layer can reject every candidate", at: emptyRange),
                           DiagnosticNote("add 'on_empty: keep-all' (pass its input on) or 'on_empty: fail' to that layer")])
        }

        // Critiques: rule 3.
        if kind == .critique || kind.makesCandidates, let from = pool.critiqueFrom, !pool.critiqueRead {
            let what = kind == .critique ? "replaced by the critique layer" : "dropped by the \(kind.rawValue) layer"
            if kind == .fuse {
                // fuse reads them before dropping them
            } else {
                report(.critiqueUnread, "the critiques made here are never read", at: from,
                       notes: [DiagnosticNote("they are \(what) here before any rank or fuse layer reads them", at: layer.kindRange)])
            }
        }
        if kind.readsCritiques { pool.critiqueRead = true }

        // Prompts and their token estimates.
        var prompts: [CallRole: String] = [:]
        let mainTemplate: PromptTemplate?
        var secondTemplate: PromptTemplate?
        switch kind {
        case .vote: mainTemplate = nil
        case .ensemble: mainTemplate = .generate
        case .critique: mainTemplate = .critique
        case .rank: mainTemplate = .rank
        case .fuse: mainTemplate = .fuse
        case .verify: mainTemplate = .verifyReasoning; secondTemplate = .verifyVerdict
        case .unitTest:
            mainTemplate = modeValue == .execute ? .writeExecutableTests : .writeJudgeTests
            secondTemplate = modeValue == .judge ? .judgeTests : nil
        }
        if let mainTemplate, let mainRole = Self.mainRole(kind) {
            prompts[mainRole] = checkPrompt(layer.prompt, against: mainTemplate)
            // An entry's own prompt (ensemble, fuse) is checked like the layer's.
            if entries.count == layer.entries.count {
                for (offset, syntax) in layer.entries.enumerated() where syntax.prompt != nil {
                    entries[offset].prompt = checkPrompt(syntax.prompt, against: mainTemplate)
                }
            }
        }
        if let secondTemplate {
            prompts[kind == .verify ? .verifyVerdict : .judgeTests] = checkPrompt(layer.secondPrompt, against: secondTemplate)
        } else if let second = layer.secondPrompt {
            report(.promptPlaceholder, "this layer sends no second prompt, so this override is never used", at: second.range)
        }

        let n = poolIn.max
        let query = budget.queryTokens + TokenEstimate.perMessageOverhead
        let embedded = n * (pool.candidateTokens + TokenEstimate.perCandidateOverhead) + pool.critiqueTokens
        var inputTokens: [CallRole: Int] = [:]
        func fixed(_ role: CallRole) -> Int {
            // The longest of the layer's prompt and its entries' own.
            let texts = [prompts[role] ?? ""] + (role == Self.mainRole(kind) ? entries.compactMap(\.prompt) : [])
            return texts.map { TokenEstimate.of(PromptTemplate.fixedText(of: $0)) }.max()! + TokenEstimate.perMessageOverhead
        }
        let writeTestsOutput = entries.first?.sampling.maxTokens ?? base.maxTokens
        switch kind {
        case .ensemble: inputTokens[.generate] = fixed(.generate) + query
        case .critique: inputTokens[.critique] = fixed(.critique) + query + embedded
        case .rank: inputTokens[.rank] = fixed(.rank) + query + embedded
        // The fuse prompt is a system message that quotes the query, followed by the query itself.
        case .fuse: inputTokens[.fuse] = fixed(.fuse) + 2 * query + embedded + TokenEstimate.of(PromptTemplate.lengthControlSentence)
        case .verify:
            inputTokens[.verifyReasoning] = fixed(.verifyReasoning) + query + pool.candidateTokens
            inputTokens[.verifyVerdict] = fixed(.verifyVerdict) + query + pool.candidateTokens + base.maxTokens
        case .unitTest:
            if testSource == .model { inputTokens[.writeTests] = fixed(.writeTests) + query }
            if modeValue == .judge { inputTokens[.judgeTests] = fixed(.judgeTests) + query + pool.candidateTokens + writeTestsOutput }
        case .vote: break
        }

        // Settings and pool arithmetic.
        var poolOut = poolIn
        var candidateTokensOut = pool.candidateTokens
        var topK: Int?
        var firstK: Int?
        switch kind {
        case .ensemble, .fuse:
            // Counted from the entries as written, so an undeclared model does not shrink the pool and cascade.
            let total = layer.entries.reduce(0) { $0 + ($1.samples?.value ?? 1) }
            poolOut = PoolRange(total, total)
            if let quorum = layer.quorum {
                if quorum.value > total {
                    report(.quorumExceedsSamples, "'quorum' is \(quorum.value), but the ensemble draws \(total) sample\(total == 1 ? "" : "s")", at: quorum.range,
                           notes: [DiagnosticNote("the quorum is how many samples to wait for before cancelling the rest")],
                           fixIts: [.replace(quorum.range, with: "\(total)")])
                } else {
                    poolOut = PoolRange(quorum.value, quorum.value)
                }
            }
            candidateTokensOut = entries.map(\.sampling.maxTokens).max() ?? 0
            for syntax in layer.entries {
                let samples = syntax.samples?.value ?? 1
                guard samples > 1, (syntax.sampling.temperature?.value ?? defaults.temperature) == 0 else { continue }
                report(.identicalSamples, "\(samples) samples at temperature 0 will all be the same answer", at: syntax.samples?.range ?? syntax.range,
                       notes: [DiagnosticNote("greedy decoding ignores the seed; raise 'temperature' or use 'samples: 1'")])
            }
            if kind == .fuse, n > PipelineChecker.largeFuseThreshold {
                report(.largeFuse, "up to \(n) candidates go into each fuse call; fusers degrade past \(PipelineChecker.largeFuseThreshold)", at: layer.kindRange,
                       notes: [DiagnosticNote("put a rank layer with 'top_k' of \(PipelineChecker.largeFuseThreshold) or fewer before the fuse")])
            }
        case .critique:
            pool.critiqueFrom = layer.kindRange
            pool.critiqueRead = false
        case .rank:
            let requested = layer.topK?.value ?? min(poolIn.max, 1)
            if let written = layer.topK {
                if written.value > poolIn.max, poolIn.max > 0 {
                    report(.topKExceedsPool, "'top_k' is \(written.value), but this layer receives at most \(candidates(poolIn.max))", at: written.range,
                           notes: [DiagnosticNote("the previous layer yields \(poolIn) candidate\(poolIn.max == 1 ? "" : "s")")],
                           fixIts: [.replace(written.range, with: "\(poolIn.max)")])
                } else if written.value == poolIn.max, poolIn.min == poolIn.max {
                    report(.rankKeepsEverything, "'top_k' keeps all \(written.value) candidates, so this rank only reorders them", at: written.range,
                           notes: [DiagnosticNote("lower 'top_k' to filter, or keep it if only the order matters (the first candidate becomes the answer)")])
                } else if written.value > poolIn.min {
                    report(.topKMayExceedPool, "'top_k' is \(written.value), but this layer can receive as few as \(candidates(poolIn.min))", at: written.range,
                           notes: [DiagnosticNote("when fewer arrive, all of them are kept")])
                }
            } else {
                report(.missingKey, "the 'rank' layer does not say how many candidates to keep", at: layer.kindRange,
                       notes: [DiagnosticNote("add 'top_k: K' (at most \(poolIn.max))")])
            }
            topK = requested
            poolOut = PoolRange(min(requested, poolIn.min), min(requested, poolIn.max))
        case .verify:
            firstK = layer.firstK?.value
            if let written = layer.firstK, written.value >= poolIn.max, poolIn.max > 0 {
                report(.firstKNeverStops, "'first_k' is \(written.value), but at most \(candidates(poolIn.max)) arrive, so verify never stops early", at: written.range,
                       notes: [DiagnosticNote("remove 'first_k' or lower it")])
            }
            let kept = min(firstK ?? poolIn.max, poolIn.max)
            poolOut = filteredPool(poolIn, keptMax: kept, policy: layer.onEmpty?.value, kind: kind)
        case .unitTest:
            topK = layer.topK?.value
            if let written = layer.topK, written.value > poolIn.max, poolIn.max > 0 {
                report(.topKExceedsPool, "'top_k' is \(written.value), but this layer receives at most \(candidates(poolIn.max))", at: written.range,
                       fixIts: [.replace(written.range, with: "\(poolIn.max)")])
            }
            let kept = min(topK ?? poolIn.max, poolIn.max)
            poolOut = filteredPool(poolIn, keptMax: kept, policy: layer.onEmpty?.value, kind: kind)
        case .vote:
            if poolIn.max < 3, poolIn.max > 0 {
                report(.fewVoters, "this vote receives at most \(candidates(poolIn.max)); a majority needs at least three", at: layer.kindRange,
                       notes: [DiagnosticNote("sample more candidates in the ensemble, or drop the vote")])
            }
            // The winning answer's candidates: at least one whenever any arrive.
            poolOut = PoolRange(min(1, poolIn.min), poolIn.max)
        }
        // A fallback passes on candidates the layer was given, so later prompts must have room for them.
        // (Like any failed call, it is not counted in the lower bound of the pool.)
        let onFailure = layer.onFailure?.value ?? FailurePolicy.defaultPolicy(for: kind)
        if onFailure != .fail, poolIn.max > 0 {
            if onFailure == .passThrough { poolOut.max = max(poolOut.max, poolIn.max) }
            candidateTokensOut = max(candidateTokensOut, pool.candidateTokens)
        }
        if (kind == .verify || kind == .unitTest), poolOut.min == 0 {
            pool.emptiedBy = (kind, layer.kindRange)
        } else if poolOut.min > 0 {
            pool.emptiedBy = nil
        }
        if kind != .verify, kind != .unitTest, let onEmpty = layer.onEmpty {
            report(.unknownKey, "'on_empty' only applies to verify and unit-test layers", at: onEmpty.range)
        }

        // Context windows: every call's worst-case prompt plus its output must fit.
        for entry in entries {
            let model = resolver.models[entry.model]
            for (role, input) in inputTokens.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                let output = role == .writeTests ? writeTestsOutput : entry.sampling.maxTokens
                if input + output > model.contextWindow {
                    report(.contextOverflow,
                           "a \(role.rawValue) call can need \(input) prompt tokens + \(output) output tokens, more than \(model.name)'s context window of \(model.contextWindow)",
                           at: layer.kindRange,
                           notes: [DiagnosticNote("the prompt embeds up to \(n) candidates of up to \(pool.candidateTokens) tokens each\(pool.critiqueTokens > 0 ? " and their critiques" : "")"),
                                   DiagnosticNote("rank to fewer candidates first, lower the upstream 'max_tokens', or use a model with a larger 'context_window'")])
                    break
                }
            }
        }

        // Rule 7: capabilities. Layers that parse a model's judgement ask for
        // JSON-schema output where the model can give it.
        var structured = false
        if !kind.makesCandidates, let model = entries.first.map({ resolver.models[$0.model] }) {
            switch layer.structured?.value ?? .auto {
            case .auto: structured = model.supportsJSONSchema
            case .never: structured = false
            case .always:
                structured = true
                if !model.supportsJSONSchema, let written = layer.structured {
                    report(.missingCapability, "'structured: always' asks for JSON-schema output, but model '\(model.name)' does not declare that capability", at: written.range,
                           notes: [DiagnosticNote("declare 'capabilities: { json_schema: true }' on the model if its server supports it, or use 'structured: auto'")],
                           fixIts: [.replace(written.range, with: "auto")])
                }
            }
        }

        if kind == .critique {
            pool.critiqueTokens = entries.first?.sampling.maxTokens ?? base.maxTokens
        } else if kind.makesCandidates {
            pool.critiqueTokens = 0
            pool.critiqueFrom = nil
            pool.critiqueRead = false
        }
        pool.range = poolOut
        pool.candidateTokens = candidateTokensOut
        guard resolved else { return nil }
        return CheckedLayer(
            index: index, kind: kind, entries: entries, poolIn: poolIn, poolOut: poolOut,
            candidateTokensOut: candidateTokensOut, critiquesOut: pool.critiqueFrom != nil,
            topK: topK, firstK: firstK, lengthControl: layer.lengthControl?.value ?? false,
            onEmpty: layer.onEmpty?.value, mode: kind == .unitTest ? modeValue : nil, tests: layer.tests?.value ?? 5,
            testSource: kind == .unitTest ? testSource : nil, structuredOutput: structured,
            onMalformed: layer.onMalformed?.value ?? .fail,
            onFailure: onFailure, timeoutSeconds: layer.timeoutSeconds?.value ?? 10,
            memoryMB: layer.memoryMB?.value ?? 512, extractor: kind == .vote ? layer.extractor?.value ?? .numeric : nil,
            earlyStop: kind == .vote ? layer.earlyStop?.value : nil, wave: layer.wave?.value ?? 2,
            quorum: kind == .ensemble ? layer.quorum.map { min($0.value, poolOut.max) } : nil, prompts: prompts, inputTokens: inputTokens, range: layer.range)
    }

    /// The pool out of a filtering layer (verify, unit-test).
    func filteredPool(_ poolIn: PoolRange, keptMax: Int, policy: EmptyPolicy?, kind: LayerKind) -> PoolRange {
        switch policy {
        case nil: return PoolRange(0, keptMax)
        // A query that reaches the next layer has at least one candidate.
        case .fail: return PoolRange(min(1, keptMax), keptMax)
        case .keepAll:
            // verify passes its whole input on when nothing is correct; unit-test
            // keeps everything, sorted, and still cuts to top_k.
            return kind == .verify ? PoolRange(min(1, poolIn.min), poolIn.max) : PoolRange(min(keptMax, poolIn.min), keptMax)
        }
    }

    func candidates(_ count: Int) -> String { count == 1 ? "1 candidate" : "\(count) candidates" }

    static func mainRole(_ kind: LayerKind) -> CallRole? {
        switch kind {
        case .vote: nil
        case .ensemble: .generate
        case .critique: .critique
        case .rank: .rank
        case .fuse: .fuse
        case .verify: .verifyReasoning
        case .unitTest: .writeTests
        }
    }

    /// The override if it is well formed (reported otherwise), else the built-in text.
    mutating func checkPrompt(_ override: Located<String>?, against template: PromptTemplate) -> String {
        guard let override else { return template.text }
        let used = PromptTemplate.placeholders(in: override.value)
        for name in used where !template.allowed.contains(name) {
            var fixIts: [FixIt] = []
            var message = "unknown placeholder '{\(name)}' in the \(template.role) prompt"
            if let suggestion = Suggestions.closest(to: name, in: template.allowed) {
                message += "; did you mean '{\(suggestion)}'?"
                fixIts.append(FixIt(message: "use '{\(suggestion)}'", edits: []))
            }
            report(.promptPlaceholder, message, at: override.range,
                   notes: [DiagnosticNote("this prompt can use: \(template.allowed.map { "{\($0)}" }.joined(separator: ", ")); write '{{' for a literal brace")],
                   fixIts: fixIts)
        }
        let missing = template.required.filter { !used.contains($0) }
        if !missing.isEmpty {
            report(.promptPlaceholder, "the \(template.role) prompt must contain \(missing.map { "{\($0)}" }.joined(separator: " and "))", at: override.range,
                   notes: [DiagnosticNote("without it the model never sees what it must work on")])
        }
        return override.value
    }
}
