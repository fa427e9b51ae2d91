import Foundation
import StrataDiagnostics

/// Choices about how the imported models are reached.
public struct ArchonImportOptions: Sendable {
    /// `api_key_env: [NAME, NAME_2, …, NAME_n]`, like Archon's numbered key variables.
    public var keyRotation = 1
    /// Send every model's requests here instead (an OpenAI-compatible server; no key).
    public var baseURL: String?

    /// Options; `keyRotation` and `baseURL` as Archon's own configuration gives them.
    public init(keyRotation: Int = 1, baseURL: String? = nil) {
        self.keyRotation = keyRotation
        self.baseURL = baseURL
    }
}

/// Turns Archon's layers into Strata's, keeping Archon's structure and
/// sampling, and says where the semantics differ (warnings) or cannot be
/// kept (errors), each at the Archon construct's JSON path.
struct ArchonTranslator {
    let options: ArchonImportOptions
    let fileName: String
    var diagnostics: [Diagnostic] = []
    private var names = ModelNames()
    private var models: [ImportedModel] = []

    init(options: ArchonImportOptions, fileName: String) {
        self.options = options
        self.fileName = fileName
    }

    mutating func translate(_ config: ArchonConfig) -> ImportedPipeline? {
        let errorsBefore = errorCount
        checkProviders(config)
        let plan = ArchonLayerPlan.make(config, diagnostics: &diagnostics)
        guard errorCount == errorsBefore, let plan else { return nil }
        var layers: [ImportedLayer] = []
        if let writer = plan.testWriter, let first = config.layers.first {
            layers.append(writeTests(writer, origin: ArchonOrigin(path: first.path, range: first.range)))
        }
        var critiques = CritiqueFlow()
        for step in plan.steps {
            if let layer = translate(step, plan: plan, critiques: &critiques) { layers.append(layer) }
        }
        guard errorCount == errorsBefore else { return nil }
        let (temperature, maxTokens) = Self.commonSampling(layers)
        return ImportedPipeline(
            name: config.name ?? fileName, models: models, temperature: temperature, maxTokens: maxTokens, layers: layers)
    }

    var errorCount: Int { diagnostics.filter { $0.severity == .error }.count }

    /// Components whose transport Strata has no provider for, and PairRM rankers.
    mutating func checkProviders(_ config: ArchonConfig) {
        for component in config.layers.flatMap(\.components) {
            if component.kind == .ranker, component.model.lowercased().contains("pairrm") || component.modelType.isEmpty {
                diagnostics.append(
                    Diagnostic(
                        .archonRewardModelRanker,
                        "\(component.path(of: "model")): '\(component.model)' is a PairRM reward model, run locally by Archon; Strata ranks with chat models",
                        at: component.range(of: "model"),
                        notes: [DiagnosticNote("replace it with a chat model (\"type\": \"ranker\" with a model Strata can call) to import this configuration")]
                    ))
            } else if options.baseURL == nil, ArchonProvider.of(component.modelType) == nil {
                let what = component.modelType.isEmpty ? "an empty model_type" : "model_type '\(component.modelType)'"
                diagnostics.append(
                    Diagnostic(
                        .archonUnsupportedProvider,
                        "\(component.path(of: "model_type")): \(what) has no Strata provider (OpenAI_API, Anthropic_API, Together_API, Groq_API, Google_API and vLLM do)",
                        at: component.range(of: "model_type"),
                        notes: [DiagnosticNote("--base-url sends every model to one OpenAI-compatible server instead")]))
            }
        }
    }

    mutating func translate(_ step: ArchonLayerPlan.Step, plan: ArchonLayerPlan, critiques: inout CritiqueFlow) -> ImportedLayer? {
        let layer = step.layer
        let origin = ArchonOrigin(path: layer.path, range: layer.range)
        let first = layer.components[0]
        switch first.kind {
        case .generator:
            critiques.newCandidates()
            for component in layer.components { noteTransport(component) }
            return ImportedLayer(kind: .ensemble(layer.components.map { entry($0) }), origin: origin)
        case .fuser:
            critiques.check(layer, consumer: "fuser", diagnostics: &diagnostics)
            let lengthControl = lengthControl(layer, critiquesReach: critiques.strata)
            critiques.newCandidates()
            return ImportedLayer(kind: .fuse(layer.components.map { entry($0) }, lengthControl: lengthControl), origin: origin)
        case .critic:
            singleCall(first)
            critiques.made()
            return ImportedLayer(kind: .critique(entry(first, samples: 1)), origin: origin)
        case .ranker:
            critiques.check(layer, consumer: "ranker", diagnostics: &diagnostics)
            return ImportedLayer(kind: .rank(entry(first, samples: 1), topK: first.topK ?? 1), origin: origin)
        case .verifier:
            singleCall(first)
            return ImportedLayer(kind: .verify(entry(first, samples: 1), firstK: first.firstK), origin: origin)
        case .unitTestEvaluator:
            return unitTest(first, origin: origin)
        case .unitTestGenerator:
            return nil  // the plan's test writer, imported first (or refused by the plan)
        }
    }

    /// Archon's tests written before the generators, appended to every later layer's query: Strata's `write-tests`.
    mutating func writeTests(_ writer: ArchonComponent, origin: ArchonOrigin) -> ImportedLayer {
        if writer.unitTestCap == nil {
            diagnostics.append(
                Diagnostic(
                    .archonTestCount, "\(writer.path): no unit_test_cap, so Archon's model picks how many tests to write; the import asks for 5",
                    at: writer.range))
        }
        let tests = min(max(writer.unitTestCap ?? 5, 1), 50)
        return ImportedLayer(kind: .writeTests(entry(writer, samples: 1), tests: tests), origin: origin)
    }

    /// Archon's evaluator grades the tests written first: Strata's `unit-test` in judge mode with `test_source: written`.
    mutating func unitTest(_ evaluator: ArchonComponent, origin: ArchonOrigin) -> ImportedLayer? {
        // first_pass is first_k 1; Archon returns the first k candidates that pass every test, else the top_k.
        let firstK = evaluator.firstK ?? (evaluator.firstPass ? 1 : nil)
        if evaluator.topK == nil {
            diagnostics.append(
                Diagnostic(
                    .archonZeroPassKept,
                    "\(evaluator.path): without top_k Archon keeps every candidate, those passing no test included; Strata drops them unless none pass",
                    at: evaluator.range))
        }
        return ImportedLayer(kind: .unitTest(entry(evaluator, samples: 1), topK: evaluator.topK, firstK: firstK), origin: origin)
    }

    /// `length_control` only changes the fuse prompt that shows critiques: kept where critiques reach the fuse.
    mutating func lengthControl(_ layer: ArchonLayer, critiquesReach: Bool) -> Bool {
        let asked = layer.components.filter(\.lengthControl)
        guard !asked.isEmpty else { return false }
        if critiquesReach { return true }
        for component in asked {
            diagnostics.append(
                Diagnostic(
                    .archonLengthControlUnused,
                    "\(component.path(of: "length_control")): length_control changes only the prompt that shows critiques, and none reach this fuser; dropped",
                    at: component.range(of: "length_control")))
        }
        return false
    }

    mutating func singleCall(_ component: ArchonComponent) {
        guard let samples = component.samples, samples > 1 else { return }
        diagnostics.append(
            Diagnostic(
                .archonSingleCall,
                "\(component.path(of: "samples")): a \(component.kind.rawValue) makes one call whatever its samples (Archon reads the first reply only); imported as one call",
                at: component.range(of: "samples")))
    }

    /// Models Archon sends differently from how Strata will.
    mutating func noteTransport(_ component: ArchonComponent) {
        let id = component.model.lowercased()
        if id.hasPrefix("o1") {
            diagnostics.append(
                Diagnostic(
                    .archonTransport,
                    "\(component.path(of: "model")): Archon sends o1 models no temperature, max_tokens\(component.noSystem ? " or system message" : ""); Strata sends them, and o1 may refuse them",
                    at: component.range(of: "model")))
        } else if component.modelType == "vLLM", options.baseURL == nil {
            diagnostics.append(
                Diagnostic(
                    .archonTransport,
                    "\(component.path(of: "model_type")): Archon runs vLLM in-process; Strata calls a `vllm serve` at http://127.0.0.1:8000/v1 (or --base-url)",
                    at: component.range(of: "model_type")))
        }
    }

    /// An entry for a component, declaring its model on first use.
    mutating func entry(_ component: ArchonComponent, samples: Int? = nil) -> ImportedEntry {
        let provider =
            options.baseURL.map { ArchonProvider(provider: "openai-compatible", baseURL: $0, keyVariable: nil) } ?? ArchonProvider.of(component.modelType)!
        let identity = "\(component.modelType)\u{0}\(component.model)"
        let isNew = names.names[identity] == nil
        let name = names.name(for: component.model, identity: identity)
        if isNew {
            let window = ArchonContextWindows.of(component.model)
            if window == nil {
                diagnostics.append(
                    Diagnostic(
                        .archonUnknownContextWindow,
                        "\(component.path(of: "model")): no built-in context window for '\(component.model)'; the provider's default is assumed, so a prompt that does not fit may go unnoticed",
                        at: component.range(of: "model")))
            }
            models.append(
                ImportedModel(
                    name: name, archonID: component.model, provider: provider, contextWindow: window,
                    origin: ArchonOrigin(path: component.path(of: "model"), range: component.range(of: "model"))))
        }
        // Archon's Anthropic path always asks for 4096 tokens, whatever the configuration says.
        let maxTokens = component.modelType == "Anthropic_API" && options.baseURL == nil ? 4096 : component.maxTokens
        return ImportedEntry(
            model: name, samples: samples ?? component.samples ?? 1, temperature: component.temperature, maxTokens: maxTokens,
            origin: ArchonOrigin(path: component.path, range: component.range))
    }

    /// The most frequent (temperature, max_tokens) over all entries, first in document order on a tie: the pipeline's defaults.
    static func commonSampling(_ layers: [ImportedLayer]) -> (Double, Int) {
        var counts: [String: (count: Int, first: Int, value: (Double, Int))] = [:]
        var order = 0
        for entry in layers.flatMap(\.entries) {
            let key = "\(entry.temperature)/\(entry.maxTokens)"
            if let existing = counts[key] {
                counts[key] = (existing.count + 1, existing.first, existing.value)
            } else {
                counts[key] = (1, order, (entry.temperature, entry.maxTokens))
            }
            order += 1
        }
        let best = counts.values.max { ($0.count, -$0.first) < ($1.count, -$1.first) }
        return best?.value ?? (0.7, 2048)
    }
}

extension ImportedLayer {
    var entries: [ImportedEntry] {
        switch kind {
        case .ensemble(let entries), .fuse(let entries, _): entries
        case .critique(let entry), .rank(let entry, _), .verify(let entry, _), .unitTest(let entry, _, _), .writeTests(let entry, _): [entry]
        }
    }
}

/// Where critiques are, in Archon (they outlive every layer until the next
/// critic) and in Strata (a fuse or a new ensemble drops them): a consumer
/// that Archon would show critiques and Strata would not gets W083.
struct CritiqueFlow {
    /// The critic layer whose critiques Archon still carries.
    var archonSource: Bool = false
    var strata = false

    mutating func made() {
        archonSource = true
        strata = true
    }

    mutating func newCandidates() { strata = false }

    func check(_ layer: ArchonLayer, consumer: String, diagnostics: inout [Diagnostic]) {
        guard archonSource, !strata else { return }
        diagnostics.append(
            Diagnostic(
                .archonStaleCritiques,
                "\(layer.path): Archon would show this \(consumer) the critiques of candidates an earlier layer replaced (pairing them by position); Strata drops critiques when candidates are replaced, so it sees none",
                at: layer.range))
    }
}
