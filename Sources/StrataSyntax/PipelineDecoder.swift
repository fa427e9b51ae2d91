import Foundation
import StrataDiagnostics
import StrataYAML

/// Translates a located YAML tree into a `PipelineSyntax`, reporting every
/// structural problem (unknown keys, wrong types, out-of-range values) it sees.
package enum PipelineDecoder {
    /// The version of the language this tool reads.
    package static let currentVersion = 1

    package static func decode(_ root: YAMLNode?, file: String) -> (PipelineSyntax, [Diagnostic]) {
        var decoder = Decoder(file: file)
        decoder.decodeFile(root)
        return (decoder.syntax, decoder.reader.diagnostics)
    }
}

private struct Decoder {
    var syntax: PipelineSyntax
    var reader = ValueReader()

    init(file: String) { syntax = PipelineSyntax(file: file) }

    mutating func decodeFile(_ root: YAMLNode?) {
        let file = syntax.file
        guard let root, !root.isNull else {
            reader.report(
                .noLayers, "the file is empty", at: .startOf(file),
                notes: [DiagnosticNote("a pipeline needs 'strata: 1' and a 'layers:' list")])
            return
        }
        guard let pairs = reader.mapping(root, context: "pipeline", what: "a pipeline file") else { return }
        for (key, keyRange, value) in pairs {
            syntax.topLevelKeys[key] = keyRange
            switch key {
            case "strata":
                guard let version = reader.int(value, key: "strata") else { continue }
                if version.value != PipelineDecoder.currentVersion {
                    reader.report(
                        .unsupportedVersion, "this tool reads version \(PipelineDecoder.currentVersion) of the language, not \(version.value)",
                        at: value.range, fixIts: [.replace(value.range, with: "\(PipelineDecoder.currentVersion)")])
                }
                syntax.version = version
            case "name": syntax.name = reader.string(value, key: key)
            case "description": syntax.description = reader.string(value, key: key)
            case "include": syntax.includes = reader.strings(value, key: key)
            case "models": decodeModels(value)
            case "defaults":
                if let pairs = reader.mapping(value, context: "defaults", what: "'defaults'") {
                    for pair in pairs { reader.decodeSampling(pair.key, pair.value, into: &syntax.defaults) }
                }
            case "budget": decodeBudget(value)
            case "layers": decodeLayers(value)
            default: break
            }
        }
        if syntax.version == nil {
            let origin = SourceRange.startOf(file)
            reader.report(
                .missingVersion, "the file does not say which version of the language it is written in", at: origin,
                notes: [DiagnosticNote("version \(PipelineDecoder.currentVersion) is assumed; saying so keeps the file readable when the language evolves")],
                fixIts: [
                    FixIt(
                        message: "insert 'strata: \(PipelineDecoder.currentVersion)'",
                        edits: [TextEdit(range: origin, replacement: "strata: \(PipelineDecoder.currentVersion)\n")])
                ])
        }
    }

    mutating func decodeModels(_ node: YAMLNode) {
        guard case .mapping(let pairs) = node.content else {
            if !node.isNull {
                reader.report(.wrongType, "'models' must be a mapping from model names to declarations, not \(node.kindDescription)", at: node.range)
            }
            return
        }
        for pair in pairs {
            guard let name = pair.key.scalar?.value else { continue }
            var model = ModelSyntax(name: Located(name, at: pair.key.range), range: pair.key.range.union(pair.value.range))
            guard let fields = reader.mapping(pair.value, context: "model", what: "model '\(name)'") else { continue }
            for (key, _, value) in fields {
                switch key {
                case "provider": model.provider = reader.choice(value, key: key, as: Provider.self)
                case "model": model.model = reader.string(value, key: key)
                case "base_url": model.baseURL = reader.string(value, key: key)
                case "api_key_env": model.apiKeyEnv = reader.strings(value, key: key)
                case "context_window": model.contextWindow = reader.int(value, key: key, in: 256...100_000_000)
                case "price":
                    for (priceKey, _, priceValue) in reader.mapping(value, context: "price", what: "'price' (USD per million tokens)") ?? [] {
                        // USD per million tokens: the bound keeps every cost sum finite.
                        let price = reader.double(priceValue, key: priceKey, in: 0...1_000_000)
                        switch priceKey {
                        case "input": model.priceInput = price
                        case "cached_input": model.priceCachedInput = price
                        default: model.priceOutput = price
                        }
                    }
                case "capabilities":
                    for (capability, _, flag) in reader.mapping(value, context: "capabilities", what: "'capabilities'") ?? [] {
                        let parsed = reader.bool(flag, key: capability)
                        switch capability {
                        case "n": model.supportsN = parsed
                        case "json_schema": model.supportsJSONSchema = parsed
                        case "seed": model.supportsSeed = parsed
                        case "logprobs": model.supportsLogprobs = parsed
                        case "prefix_cache": model.prefixCache = parsed
                        default: model.supportsStreaming = parsed
                        }
                    }
                case "limits":
                    for (limit, _, limitValue) in reader.mapping(value, context: "limits", what: "'limits'") ?? [] {
                        let parsed = reader.int(limitValue, key: limit, in: 1...Int.max)
                        switch limit {
                        case "max_in_flight": model.maxInFlight = parsed
                        case "requests_per_minute": model.requestsPerMinute = parsed
                        default: model.tokensPerMinute = parsed
                        }
                    }
                case "latency":
                    for (latencyKey, _, latencyValue) in reader.mapping(value, context: "latency", what: "'latency'") ?? [] {
                        if latencyKey == "overhead_ms" {
                            model.overheadMs = reader.double(latencyValue, key: latencyKey, in: 0...86_400_000)
                        } else {
                            model.tokensPerSecond = reader.double(latencyValue, key: latencyKey, in: 0.001...10_000_000)
                        }
                    }
                default: break
                }
            }
            syntax.models.append(model)
        }
    }

    mutating func decodeBudget(_ node: YAMLNode) {
        var budget = BudgetSyntax(range: node.range)
        for (key, _, value) in reader.mapping(node, context: "budget", what: "'budget'") ?? [] {
            switch key {
            case "calls": budget.calls = reader.int(value, key: key, in: 1...Int.max)
            case "input_tokens": budget.inputTokens = reader.int(value, key: key, in: 1...Int.max)
            case "output_tokens": budget.outputTokens = reader.int(value, key: key, in: 1...Int.max)
            case "usd": budget.usd = reader.double(value, key: key, in: 0...1_000_000_000)
            case "latency_s": budget.latencySeconds = reader.double(value, key: key, in: 0.001...10_000_000)
            default: budget.queryTokens = reader.int(value, key: key, in: 1...Int.max)
            }
        }
        syntax.budget = budget
    }

    /// `early_stop: unbeatable | LEVEL | { window: W } | { consensus: SHARE }`.
    mutating func decodeEarlyStop(_ value: YAMLNode) -> Located<EarlyStop>? {
        if value.scalar?.value == "unbeatable" { return Located(.unbeatable, at: value.range) }
        guard case .mapping = value.content else {
            return reader.double(value, key: "early_stop", in: 0.5...0.999_999).map { Located(.confidence($0.value), at: value.range) }
        }
        var rule: EarlyStop?
        for (key, keyRange, field) in reader.mapping(value, context: "early_stop", what: "'early_stop'") ?? [] {
            if rule != nil {
                reader.report(
                    .wrongType, "'early_stop' takes one rule; '\(key)' is a second", at: keyRange,
                    notes: [DiagnosticNote("write one of window or consensus")])
                continue
            }
            switch key {
            case "window": rule = reader.int(field, key: key, in: 2...10_000).map { .window($0.value) }
            case "consensus": rule = reader.double(field, key: key, in: 0.5...1).map { .consensus($0.value) }
            default: break
            }
        }
        return rule.map { Located($0, at: value.range) }
    }

    /// A share written as a percentage, `50%`, as `keep:` takes it.
    mutating func decodeShare(_ value: YAMLNode, key: String) -> Located<Double>? {
        guard let scalar = value.scalar, scalar.value.hasSuffix("%"),
            let percent = Double(scalar.value.dropLast().trimmingCharacters(in: .whitespaces)), percent > 0, percent <= 100
        else {
            reader.report(
                .wrongType, "'\(key)' must be a percentage between 1% and 100%, such as 50%", at: value.range,
                notes: [DiagnosticNote("the most confident share of the candidates is counted")])
            return nil
        }
        return Located(percent / 100, at: value.range)
    }

    mutating func decodeLayers(_ node: YAMLNode) {
        syntax.layers = decodeLayerList(node, key: "layers")
    }

    /// A list of layers: the pipeline's, or a route branch's.
    mutating func decodeLayerList(_ node: YAMLNode, key: String) -> [LayerSyntax] {
        var layers: [LayerSyntax] = []
        guard case .sequence(let items) = node.content else {
            reader.report(
                .wrongType, "'\(key)' must be a list of layers, not \(node.kindDescription)", at: node.range,
                notes: [DiagnosticNote("write each layer as a list item: '- ensemble: …'")])
            return []
        }
        for item in items {
            guard case .mapping(let pairs) = item.content else {
                if let word = item.scalar?.value, let kind = LayerKind(rawValue: word) {
                    reader.report(
                        .wrongType, "layer '\(word)' needs its settings", at: item.range,
                        fixIts: [.replace(item.range, with: "\(kind.rawValue):", message: "write '\(word):' followed by its settings")])
                } else {
                    reader.report(
                        .layerKind,
                        "a layer must be a mapping with one kind key (\(LayerKind.allCases.map(\.rawValue).joined(separator: ", "))), not \(item.kindDescription)",
                        at: item.range)
                }
                continue
            }
            var kinds: [(LayerKind, YAMLNode.Pair)] = []
            for pair in pairs {
                guard let key = pair.key.scalar?.value else { continue }
                if let kind = LayerKind(rawValue: key) {
                    kinds.append((kind, pair))
                } else {
                    reader.unknownKey(key, at: pair.key.range, in: "a layer", allowed: Vocabulary.keys("layer"))
                }
            }
            guard let (kind, pair) = kinds.first else {
                if !pairs.isEmpty, pairs.allSatisfy({ LayerKind(rawValue: $0.key.scalar?.value ?? "") == nil }) { continue }
                reader.report(
                    .layerKind, "this layer names no kind", at: item.range,
                    notes: [DiagnosticNote("start the layer with one of: \(LayerKind.allCases.map(\.rawValue).joined(separator: ", "))")])
                continue
            }
            if kinds.count > 1 {
                let extra = kinds[1]
                reader.report(
                    .layerKind, "one layer cannot be both '\(kind.rawValue)' and '\(extra.0.rawValue)'", at: extra.1.key.range,
                    notes: [
                        DiagnosticNote("the layer's kind is set here", at: pair.key.range),
                        DiagnosticNote("each kind stands in a layer of its own: start a new list item with '- \(extra.0.rawValue):'"),
                    ])
            }
            var layer = LayerSyntax(kind: kind, kindRange: pair.key.range, range: item.range)
            switch kind {
            case .ensemble, .fuse: decodeGenerationLayer(pair.value, into: &layer)
            case .route: decodeRoute(pair.value, into: &layer)
            default: decodeStandaloneLayer(pair.value, into: &layer)
            }
            layers.append(layer)
        }
        return layers
    }

    /// `ensemble` and `fuse`: a list of entries, or a mapping with `models:` and layer settings.
    mutating func decodeGenerationLayer(_ node: YAMLNode, into layer: inout LayerSyntax) {
        let kind = layer.kind.rawValue
        if case .sequence = node.content {
            layer.entries = decodeEntries(node)
        } else if let pairs = reader.mapping(node, context: kind, what: "a '\(kind)' layer") {
            for (key, _, value) in pairs {
                switch key {
                case "models": layer.entries = decodeEntries(value)
                case "prompt": layer.prompt = reader.string(value, key: key)
                case "on_failure": layer.onFailure = reader.choice(value, key: key, as: FailurePolicy.self)
                case "quorum": layer.quorum = reader.int(value, key: key, in: 1...Int.max)
                default: layer.lengthControl = reader.bool(value, key: key)
                }
            }
            if !pairs.contains(where: { $0.key == "models" }) {
                reader.report(
                    .missingKey, "the '\(kind)' layer lists no models", at: layer.kindRange,
                    notes: [DiagnosticNote("write 'models:' with a list of entries such as '- { model: NAME, samples: 3 }'")])
            }
        }
    }

    mutating func decodeEntries(_ node: YAMLNode) -> [EntrySyntax] {
        guard case .sequence(let items) = node.content else {
            reader.report(.wrongType, "the models of a layer must be a list of entries, not \(node.kindDescription)", at: node.range)
            return []
        }
        var entries: [EntrySyntax] = []
        for item in items {
            // `- qwen` is shorthand for `- model: qwen`.
            if let name = item.scalar, !item.isNull {
                entries.append(EntrySyntax(model: Located(name.value, at: item.range), range: item.range))
                continue
            }
            guard let pairs = reader.mapping(item, context: "entry", what: "a model entry") else { continue }
            var model: Located<String>?
            var samples: Located<Int>?
            var sampling = SamplingSyntax()
            var prompt: Located<String>?
            for (key, _, value) in pairs {
                switch key {
                case "model": model = reader.string(value, key: key)
                case "samples": samples = reader.int(value, key: key, in: 1...100_000)
                case "prompt": prompt = reader.string(value, key: key)
                default: reader.decodeSampling(key, value, into: &sampling)
                }
            }
            guard let model else {
                if !pairs.contains(where: { $0.key == "model" }) {
                    reader.report(
                        .missingKey, "this entry names no model", at: item.range,
                        notes: [DiagnosticNote("add 'model: NAME' naming a model declared under 'models:'")])
                }
                continue
            }
            entries.append(EntrySyntax(model: model, samples: samples, sampling: sampling, prompt: prompt, range: item.range))
        }
        return entries
    }

    /// critique, rank, verify, unit-test, write-tests: one model and the layer's settings.
    mutating func decodeStandaloneLayer(_ node: YAMLNode, into layer: inout LayerSyntax) {
        let kind = layer.kind.rawValue
        if case .sequence = node.content {
            reader.report(
                .layerKind, "a '\(kind)' layer takes one model, not a list", at: node.range,
                notes: [DiagnosticNote("only ensemble and fuse layers hold several models; write 'model: NAME'")])
            return
        }
        guard let pairs = reader.mapping(node, context: kind, what: "a '\(kind)' layer") else { return }
        var model: Located<String>?
        for (key, _, value) in pairs {
            switch key {
            case "model": model = reader.string(value, key: key)
            case "prompt": layer.prompt = reader.string(value, key: key)
            case "verdict_prompt", "judge_prompt": layer.secondPrompt = reader.string(value, key: key)
            case "top_k": layer.topK = reader.int(value, key: key, in: 1...Int.max)
            case "first_k": layer.firstK = reader.int(value, key: key, in: 1...Int.max)
            case "on_empty": layer.onEmpty = reader.choice(value, key: key, as: EmptyPolicy.self)
            case "on_malformed": layer.onMalformed = reader.choice(value, key: key, as: MalformedPolicy.self)
            case "on_failure": layer.onFailure = reader.choice(value, key: key, as: FailurePolicy.self)
            case "structured": layer.structured = reader.choice(value, key: key, as: StructuredOutput.self)
            case "mode": layer.mode = reader.choice(value, key: key, as: UnitTestMode.self)
            case "test_source": layer.testSource = reader.choice(value, key: key, as: TestSource.self)
            case "tests": layer.tests = reader.int(value, key: key, in: 1...50)
            case "timeout_s": layer.timeoutSeconds = reader.double(value, key: key, in: 0.1...600)
            case "memory_mb": layer.memoryMB = reader.int(value, key: key, in: 16...65_536)
            case "extractor": layer.extractor = reader.choice(value, key: key, as: AnswerExtractorKind.self)
            case "early_stop": layer.earlyStop = decodeEarlyStop(value)
            case "weight": layer.weight = reader.choice(value, key: key, as: VoteWeight.self)
            case "keep": layer.keep = decodeShare(value, key: key)
            case "wave": layer.wave = reader.int(value, key: key, in: 1...10_000)
            case "show": layer.show = reader.bool(value, key: key)
            default: reader.decodeSampling(key, value, into: &layer.sampling)
            }
        }
        if let model {
            layer.entries = [EntrySyntax(model: model, sampling: layer.sampling, range: model.range)]
        } else if layer.kind != .unitTest, !layer.kind.callsNoModel {
            reader.report(
                .missingKey, "the '\(kind)' layer names no model", at: layer.kindRange,
                notes: [DiagnosticNote("add 'model: NAME' naming a model declared under 'models:'")])
        }
    }
}

extension ValueReader {
    mutating func decodeSampling(_ key: String, _ value: YAMLNode, into sampling: inout SamplingSyntax) {
        switch key {
        case "temperature": sampling.temperature = double(value, key: key, in: 0...2)
        case "max_tokens": sampling.maxTokens = int(value, key: key, in: 1...1_000_000)
        case "top_p":
            sampling.topP = double(value, key: key, in: 0...1)
            if let topP = sampling.topP, topP.value == 0 {
                report(
                    .outOfRange, "'top_p' is 0, but it must be greater than 0", at: topP.range,
                    fixIts: [.replace(topP.range, with: "1", message: "use 1 (no nucleus cut)")])
                sampling.topP = nil
            }
        case "seed": sampling.seed = int(value, key: key, in: 0...Int(Int32.max))
        default: break
        }
    }
}

extension Decoder {
    /// `route: { cascade: {…} | match: […], default: NAME, branches: { NAME: [layers], … } }`.
    mutating func decodeRoute(_ node: YAMLNode, into layer: inout LayerSyntax) {
        guard let pairs = reader.mapping(node, context: "route", what: "a 'route' layer") else { return }
        var cascade: Located<RouteRule>?
        var arms: [MatchArm]?
        var otherwise: Located<String>?
        var classify: (prompt: String, table: [Int: String], range: SourceRange)?
        for (key, keyRange, value) in pairs {
            switch key {
            case "cascade":
                var threshold: Double?
                var measure = CascadeMeasure.agreement
                for (field, _, setting) in reader.mapping(value, context: "cascade", what: "'cascade'") ?? [] {
                    switch field {
                    case "threshold": threshold = reader.double(setting, key: field, in: 0...1)?.value
                    default: measure = reader.choice(setting, key: field, as: CascadeMeasure.self)?.value ?? measure
                    }
                }
                if let threshold {
                    cascade = Located(.cascade(measure: measure, threshold: threshold), at: value.range)
                } else if case .mapping = value.content {
                    reader.report(
                        .missingKey, "a cascade needs 'threshold': how sure a branch's answer must be to stop there", at: keyRange,
                        notes: [DiagnosticNote("e.g. 'cascade: { threshold: 0.8 }' answers from a branch whose samples agree 80% or more")])
                }
            case "match": arms = decodeArms(value)
            case "classify": classify = decodeClassifier(value, into: &layer)
            case "default": otherwise = reader.string(value, key: key)
            default: layer.branches = decodeBranches(value)
            }
        }
        if let classify {
            guard cascade == nil, arms == nil else {
                reader.report(
                    .wrongType, "a route chooses by one of 'cascade', 'match' and 'classify'", at: layer.kindRange,
                    notes: [DiagnosticNote("keep one of them")])
                return
            }
            guard let otherwise else {
                reader.report(
                    .missingKey, "a 'classify' route needs 'default': the branch for a rating the table does not list", at: layer.kindRange,
                    notes: [DiagnosticNote("add 'default: NAME' naming one of the branches")])
                return
            }
            layer.routeRule = Located(.classify(prompt: classify.prompt, table: classify.table, otherwise: otherwise.value), at: otherwise.range)
            return
        }
        switch (cascade, arms) {
        case (let cascade?, nil):
            layer.routeRule = cascade
        case (nil, let arms?):
            guard let otherwise else {
                reader.report(
                    .missingKey, "a 'match' route needs 'default': the branch for queries no arm matches", at: layer.kindRange,
                    notes: [DiagnosticNote("add 'default: NAME' naming one of the branches")])
                return
            }
            layer.routeRule = Located(.match(arms: arms, otherwise: otherwise.value), at: otherwise.range)
        case (_?, _?):
            reader.report(
                .wrongType, "a route chooses by 'cascade' or by 'match', not both", at: layer.kindRange,
                notes: [DiagnosticNote("keep one of the two")])
        case (nil, nil):
            reader.report(
                .missingKey, "the route says neither 'cascade' nor 'match'", at: layer.kindRange,
                notes: [DiagnosticNote("'cascade: { threshold: 0.8 }' tries the branches in order; 'match:' picks one by the query")])
        }
        if !pairs.contains(where: { $0.key == "branches" }) {
            reader.report(
                .missingKey, "the route has no 'branches'", at: layer.kindRange,
                notes: [DiagnosticNote("write 'branches:' with a name per branch and its layers, e.g. 'cheap: [ { ensemble: [local] } ]'")])
        }
    }

    /// `classify: { model: NAME, prompt: TEXT, table: { 1: NAME, … } }`: the
    /// model becomes the layer's one entry (a short, cold call), so the checker
    /// resolves it as it does every layer's.
    mutating func decodeClassifier(_ node: YAMLNode, into layer: inout LayerSyntax) -> (prompt: String, table: [Int: String], range: SourceRange)? {
        var prompt = RouteRule.classifyPrompt
        var table: [Int: String] = [:]
        var model: Located<String>?
        for (key, keyRange, value) in reader.mapping(node, context: "classify", what: "'classify'") ?? [] {
            switch key {
            case "model": model = reader.string(value, key: key)
            case "prompt": prompt = reader.string(value, key: key)?.value ?? prompt
            default:
                guard case .mapping(let pairs) = value.content else {
                    reader.report(.wrongType, "'table' maps ratings to branches, e.g. '{ 1: quick, 5: careful }'", at: value.range)
                    continue
                }
                for pair in pairs {
                    guard let rating = pair.key.scalar.flatMap({ Int($0.value) }), (0...9).contains(rating), let branch = pair.value.scalar?.value else {
                        reader.report(.wrongType, "a table entry maps a rating from 0 to 9 to a branch's name", at: pair.key.range)
                        continue
                    }
                    table[rating] = branch
                }
                if table.isEmpty { reader.report(.missingKey, "the table maps no rating", at: keyRange) }
            }
        }
        guard let model else {
            reader.report(.missingKey, "'classify' needs the 'model' that rates the query", at: node.range)
            return nil
        }
        var sampling = SamplingSyntax()
        sampling.temperature = Located(0, at: model.range)
        sampling.maxTokens = Located(4, at: model.range)
        layer.entries = [EntrySyntax(model: model, sampling: sampling, range: model.range)]
        return (prompt, table, node.range)
    }

    mutating func decodeArms(_ node: YAMLNode) -> [MatchArm] {
        guard case .sequence(let items) = node.content else {
            reader.report(.wrongType, "'match' must be a list of arms, not \(node.kindDescription)", at: node.range)
            return []
        }
        var arms: [MatchArm] = []
        for item in items {
            var condition: MatchArm.Condition?
            var branch: String?
            for (key, _, value) in reader.mapping(item, context: "arm", what: "a 'match' arm") ?? [] {
                switch key {
                case "regex":
                    guard let pattern = reader.string(value, key: key) else { continue }
                    if (try? NSRegularExpression(pattern: pattern.value)) == nil {
                        reader.report(.unknownValue, "'\(pattern.value)' is not a regular expression", at: value.range)
                    } else {
                        condition = .regex(pattern.value)
                    }
                case "longer_than": condition = reader.int(value, key: key, in: 0...Int.max).map { .longerThan($0.value) }
                case "shorter_than": condition = reader.int(value, key: key, in: 1...Int.max).map { .shorterThan($0.value) }
                default: branch = reader.string(value, key: key)?.value
                }
            }
            guard let condition, let branch else {
                if case .mapping = item.content {
                    reader.report(
                        .missingKey, "a 'match' arm needs a condition (regex, longer_than or shorter_than) and a 'branch'", at: item.range)
                }
                continue
            }
            arms.append(MatchArm(condition: condition, branch: branch, range: item.range))
        }
        return arms
    }

    mutating func decodeBranches(_ node: YAMLNode) -> [BranchSyntax] {
        guard case .mapping(let pairs) = node.content else {
            reader.report(
                .wrongType, "'branches' must map each branch's name to its layers, not \(node.kindDescription)", at: node.range)
            return []
        }
        return pairs.compactMap { pair in
            guard let name = pair.key.scalar?.value else { return nil }
            let layers = decodeLayerList(pair.value, key: name)
            return BranchSyntax(name: Located(name, at: pair.key.range), layers: layers, range: pair.value.range)
        }
    }
}
