import StrataDiagnostics
import StrataSyntax

extension LayerWalk {
    /// Rule 1: one ensemble layer, first, or second after a `write-tests`
    /// layer (E030); `early_stop` only on a vote right after an ensemble
    /// without a quorum (E044).
    mutating func checkPlacement(_ layer: LayerSyntax, index: Int, ensembleRange: inout SourceRange?) -> Placement {
        var placement = Placement.placed
        if layer.kind == .route {
            guard index == 0 else {
                report(
                    .routePlacement, "a route must be the first layer: its branches are pipelines of their own, each with its ensemble",
                    at: layer.kindRange, notes: [DiagnosticNote("move the layers before it into each branch")])
                return .misplaced
            }
            return placement
        }
        let writesTestsFirst = main.layers.first?.kind == .writeTests
        let ensembleIndex = writesTestsFirst ? 1 : 0
        if layer.kind == .writeTests {
            if index != 0 {
                report(
                    .ensemblePlacement, "'write-tests' must be the first layer, right before the ensemble", at: layer.kindRange,
                    notes: [DiagnosticNote("its tests are written from the query alone and shown to every layer after it, the ensemble included")])
                return .misplaced
            }
            if main.layers.count == 1 {
                report(
                    .ensemblePlacement, "'write-tests' needs an ensemble layer after it", at: layer.kindRange,
                    notes: [DiagnosticNote("tests make no answer; add '- ensemble: [ { model: NAME, samples: 5 } ]' after this layer")])
                return .misplaced
            }
            return placement
        }
        if layer.kind == .ensemble {
            if let first = ensembleRange {
                report(
                    .ensemblePlacement, "a pipeline has one ensemble layer, and it comes first", at: layer.kindRange,
                    notes: [
                        DiagnosticNote("the ensemble layer is here", at: first),
                        DiagnosticNote("to generate more candidates later, use a 'fuse' layer; to add models, list them in the first ensemble"),
                    ])
                return .duplicate
            }
            ensembleRange = layer.kindRange
            if index != ensembleIndex {
                report(
                    .ensemblePlacement,
                    writesTestsFirst ? "the ensemble layer must come right after 'write-tests'" : "the ensemble layer must be the first layer",
                    at: layer.kindRange,
                    notes: [DiagnosticNote("the pipeline starts here instead", at: main.layers[ensembleIndex].kindRange)])
                placement = .misplaced
            }
        } else if index == 1, writesTestsFirst {
            report(
                .ensemblePlacement, "after 'write-tests' comes the ensemble, not '\(layer.kind.rawValue)'", at: layer.kindRange,
                notes: [DiagnosticNote("a '\(layer.kind.rawValue)' layer needs candidates; an ensemble layer makes them from the query")])
            placement = .misplaced
        } else if index == 0 {
            report(
                .ensemblePlacement, "the first layer must be an ensemble, not '\(layer.kind.rawValue)'", at: layer.kindRange,
                notes: [DiagnosticNote("a '\(layer.kind.rawValue)' layer needs candidates; an ensemble layer makes them from the query")])
            placement = .misplaced
        }
        if let earlyStop = layer.earlyStop, index == 0 || main.layers[index - 1].kind != .ensemble {
            report(
                .earlyStopPlacement, "'early_stop' needs the vote to come right after the ensemble, whose samples it draws in waves",
                at: earlyStop.range, notes: [DiagnosticNote("move the vote up, or remove 'early_stop' to count every candidate")])
        } else if let earlyStop = layer.earlyStop, let quorum = main.layers[index - 1].quorum {
            report(
                .earlyStopPlacement, "'early_stop' draws the ensemble's samples in order, which a quorum (first to arrive) contradicts",
                at: earlyStop.range, notes: [DiagnosticNote("the ensemble's quorum is here; keep one of the two", at: quorum.range)])
        }
        return placement
    }
}

/// Where rule 1 puts a layer.
enum Placement {
    case placed
    /// Checked, but the pipeline cannot be resolved as written.
    case misplaced
    /// A second ensemble: not checked at all.
    case duplicate
}
