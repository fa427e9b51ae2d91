import StrataDiagnostics

/// Which of Archon's layers become Strata layers, in order, and where the
/// unit tests come from; refuses the layer shapes Strata cannot express.
struct ArchonLayerPlan {
    var steps: [Step]
    /// The unit-test generator of the first layer: a `write-tests` layer, whose tests every later layer sees and the evaluator grades.
    var testWriter: ArchonComponent?

    struct Step {
        var layer: ArchonLayer
    }

    static func make(_ config: ArchonConfig, diagnostics: inout [Diagnostic]) -> ArchonLayerPlan? {
        var refused = false
        func refuse(_ message: String, at range: SourceRange, notes: [DiagnosticNote] = []) {
            diagnostics.append(Diagnostic(.archonLayerShape, message, at: range, notes: notes))
            refused = true
        }
        // A layer some of whose components could not be read has its errors already: planning stops there.
        guard config.layers.allSatisfy({ $0.components.count == $0.declared }) else { return nil }
        let layers = config.layers
        for layer in layers where layer.components.isEmpty {
            refuse("\(layer.path) is empty: a layer needs at least one component", at: layer.range)
        }
        guard !refused else { return nil }
        for layer in layers {
            let kinds = Set(layer.types)
            if kinds.count > 1 {
                let listed = layer.types.map(\.rawValue).joined(separator: ", ")
                refuse(
                    "\(layer.path) mixes component types (\(listed)): Archon runs them in order on the same input, so the later ones see none of the earlier ones' candidates; a Strata layer has one kind",
                    at: layer.range, notes: [DiagnosticNote("split the layer: each kind in a layer of its own")])
            } else if let kind = kinds.first, kind != .generator, kind != .fuser, layer.components.count > 1 {
                refuse("\(layer.path) has \(layer.components.count) \(kind.rawValue)s: a Strata layer of this kind has one model", at: layer.range)
            }
        }
        guard !refused else { return nil }
        let generatorLayers = layers.indices.filter { layers[$0].types.first == .generator }
        guard let firstGenerator = generatorLayers.first, let lastGenerator = generatorLayers.last else {
            refuse("$.layers has no generator layer: nothing would write the candidates", at: config.layers.first?.range ?? .startOf(""))
            return nil
        }
        var testWriter: ArchonComponent?
        for position in 0..<firstGenerator {
            let layer = layers[position]
            if position == 0, layer.types.first == .unitTestGenerator, firstGenerator == 1 {
                testWriter = layer.components[0]
            } else {
                refuse(
                    "\(layer.path): a \(layer.types.first!.rawValue) before the generators has no candidates to work on", at: layer.range)
            }
        }
        if generatorLayers != Array(firstGenerator...lastGenerator) {
            refuse(
                "\(layers[lastGenerator].path): a generator layer after other layers; Archon discards everything before it, so the earlier layers' calls would be wasted",
                at: layers[lastGenerator].range)
        }
        for position in generatorLayers.dropLast() {
            diagnostics.append(
                Diagnostic(
                    .archonDeadGeneratorLayer,
                    "\(layers[position].path): the next generator layer replaces these candidates before anything reads them (as in Archon); not imported, so its calls are not spent",
                    at: layers[position].range))
        }
        for layer in layers[(lastGenerator + 1)...] where layer.types.first == .unitTestGenerator {
            refuse("\(layer.path): unit tests are written before the generators in Archon; here nothing would read them", at: layer.range)
        }
        let evaluators = layers.filter { $0.types.first == .unitTestEvaluator }
        if testWriter == nil, let evaluator = evaluators.first {
            refuse("\(evaluator.path): a unit_test_evaluator needs a unit_test_generator in the first layer to write its tests", at: evaluator.range)
        }
        guard !refused else { return nil }
        let steps = layers[lastGenerator...].filter { $0.types.first != .unitTestGenerator }.map { Step(layer: $0) }
        return ArchonLayerPlan(steps: steps, testWriter: testWriter)
    }
}
