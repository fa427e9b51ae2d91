import Foundation
import Strata
import StrataTestSupport
import Testing

/// Search files are checked with the same machinery as pipelines: every
/// problem in one pass, at the marked position, with its stable code.
@Suite struct SearchSpaceDiagnosticsTests {
    func expectSearchDiagnostics(
        _ marked: String, _ expected: [(marker: String, code: DiagnosticCode)],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let source = MarkedSource(marked)
        let result = SearchSpaceLoader.load(text: source.text, path: "space.yaml")
        let actual = result.diagnostics.map { "\($0.range.start) \($0.code.rawValue)" }.sorted()
        let wanted = try expected.map { "\(try #require(source.markers[$0.marker])) \($0.code.rawValue)" }.sorted()
        #expect(actual == wanted, "\(DiagnosticRenderer(sources: result.sources).render(result.diagnostics))", sourceLocation: sourceLocation)
    }

    @Test func everyProblemOfASearchFileInOnePass() throws {
        try expectSearchDiagnostics(
            """
            strata-search: 1
            axes:
              samples: { range: 1️⃣[5, 1] }
              fusers: { range: [2, 10], step: 2, when: 2️⃣rounds > 1 }
              critique: { values: [true, false], 3️⃣stpe: 2 }
              4️⃣unused: [a, b]
            pipeline:
              models:
                m: { provider: openai-compatible, model: t, base_url: "http://127.0.0.1:9/v1" }
              layers:
                - ensemble: [{ model: m, samples: 5️⃣$sampels }]
                - 6️⃣$iff: critique
                  critique: { model: m }
                - fuse: [{ model: m, samples: $fusers }]
            """,
            [
                ("1️⃣", .axisDomain), ("2️⃣", .unknownAxis), ("3️⃣", .unknownKey), ("4️⃣", .unusedAxis), ("5️⃣", .unknownAxis),
                ("6️⃣", .templateDirective),
            ])
    }

    @Test func typosGetFixIts() throws {
        let source = MarkedSource(
            """
            strata-search: 1
            axes:
              samples: { 1️⃣rnage: [1, 3] }
            pipeline:
              layers:
                - ensemble: [{ model: m, samples: 1 }]
                - 2️⃣$eahc: 3
                  fuse: [m]
            """)
        let result = SearchSpaceLoader.load(text: source.text, path: "space.yaml")
        let fixes = result.diagnostics.flatMap(\.fixIts).flatMap(\.edits).map(\.replacement)
        #expect(fixes.contains("range"))
        #expect(fixes.contains("$each"))
        #expect(result.space == nil)
    }

    @Test func expressionsThatDoNotParse() throws {
        try expectSearchDiagnostics(
            """
            strata-search: 1
            axes:
              rounds: { range: [1, 3] }
              wide: { values: [1, 2], when: 1️⃣"rounds >" }
            pipeline:
              layers:
                - ensemble: [{ model: m, samples: 2️⃣"${rounds + }" }]
                - { $if: 3️⃣"rounds == (1", fuse: [m] }
                - { $if: wide > 1, fuse: [m] }
            """, [("1️⃣", .searchExpression), ("2️⃣", .searchExpression), ("3️⃣", .searchExpression)])
    }

    @Test func aMissingVersionAndTemplate() throws {
        try expectSearchDiagnostics(
            """
            1️⃣axes:
              samples: [1, 2]
            """, [("1️⃣", .missingVersion), ("1️⃣", .missingKey)])
    }

    /// A configuration's checker errors point at the template lines that produced them.
    @Test func configurationErrorsPointIntoTheTemplate() throws {
        let source = MarkedSource(
            """
            strata-search: 1
            pipeline:
              models:
                m: { provider: openai-compatible, model: t, base_url: "http://127.0.0.1:9/v1" }
              layers:
                - ensemble: [{ model: m, samples: $samples }]
                - rank: { model: m, top_k: 1️⃣$keep }
                - fuse: [m]
            axes:
              samples: [1, 4]
              keep: [2]
            """)
        let loaded = SearchSpaceLoader.load(text: source.text, path: "space.yaml")
        let space = try #require(loaded.space, "\(DiagnosticRenderer(sources: loaded.sources).render(loaded.diagnostics))")
        let plan = SearchPlan(space: space)
        #expect(plan.size == 2)
        #expect(plan.feasible.map(\.configuration.key) == ["keep=2 samples=4"])
        let reason = try #require(plan.infeasibleReasons.first)
        #expect(reason.code == .topKExceedsPool)
        let error = try #require(reason.example.diagnostics.first { $0.code == .topKExceedsPool })
        #expect(error.range.file == "space.yaml")
        #expect(error.range.start == source.markers["1️⃣"])
    }

    @Test func aSpaceWithNothingFeasibleSaysWhy() throws {
        let text = """
            strata-search: 1
            axes:
              samples: [4, 5]
            budget: { calls: 2 }
            pipeline:
              models:
                m: { provider: openai-compatible, model: t, base_url: "http://127.0.0.1:9/v1" }
              layers:
                - ensemble: [{ model: m, samples: $samples }]
                - fuse: [m]
            """
        let space = try #require(SearchSpaceLoader.load(text: text, path: "space.yaml").space)
        let plan = SearchPlan(space: space)
        #expect(plan.feasible.isEmpty)
        let diagnostic = try #require(plan.emptinessDiagnostic)
        #expect(diagnostic.code == .noFeasibleConfiguration)
        #expect(diagnostic.notes.first?.message.contains("2 configuration(s)") == true)
    }
}
