import Foundation
import Strata
import StrataTestSupport
import Testing

/// Each broken input marks where its diagnostics must point; the test checks
/// the exact set of (position, code) pairs, so a missing or an extra
/// diagnostic fails it.
@Suite struct DiagnosticGoldenTests {
    static let gpt = """
        strata: 1
        models:
          gpt: { provider: openai, model: gpt-4o-mini, price: { input: 0.15, output: 0.6 } }

        """

    @Test func threeMistakesReportedInOnePassWithFixIts() {
        let source =
            Self.gpt + """
                layers:
                  - ensemble:
                      - model: gpt
                        1️⃣smaples: 3
                  - rank:
                      model: 2️⃣gtp
                      top_k: 2
                  - fuse:
                      - model: gpt
                        temperature: 3️⃣-0.5
                """
        expectDiagnostics(source, [("1️⃣", .unknownKey), ("2️⃣", .undeclaredModel), ("3️⃣", .outOfRange)])
        let result = PipelineCompiler().compile(source: MarkedSource(source).text, path: "main.yaml")
        let fixes = result.diagnostics.flatMap(\.fixIts).flatMap(\.edits).map(\.replacement)
        #expect(fixes == ["samples", "gpt", "0"])
    }

    @Test func wrongTypesAndValues() {
        expectDiagnostics(
            Self.gpt + """
                defaults:
                  max_tokens: 1️⃣"lots"
                  top_p: 2️⃣0
                layers:
                  - ensemble:
                      - model: gpt
                        samples: 3️⃣ten
                      - model: gpt
                        samples: 4️⃣0
                  - rank:
                      model: gpt
                      top_k: 1
                      structured: 5️⃣yes-please
                """, [("1️⃣", .wrongType), ("2️⃣", .outOfRange), ("3️⃣", .wrongType), ("4️⃣", .outOfRange), ("5️⃣", .unknownValue)])
    }

    @Test func yamlDuplicateKeysAndComplexKeys() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble:
                      - model: gpt
                        samples: 2
                        1️⃣samples: 3
                  - rank: { model: gpt, top_k: 1, 2️⃣[a]: 1 }
                """, [("1️⃣", .duplicateKey), ("2️⃣", .complexKey)])
    }

    @Test func yamlSyntaxErrorPointsAtTheProblem() {
        expectDiagnostics(
            """
            strata: 1
            layers:
              - ensemble: [ { model: gpt }
            1️⃣models: {}
            """, [("1️⃣", .yamlSyntax)])
    }

    @Test func multipleDocumentsAreRefused() {
        expectDiagnostics(
            """
            strata: 1
            1️⃣---
            strata: 1
            """, [("1️⃣", .multipleDocuments)])
    }

    @Test func aliasToItsOwnNodeIsRefused() {
        expectDiagnostics(
            """
            strata: 1
            layers: &loop [ 1️⃣*loop ]
            """, [("1️⃣", .badAlias)])
    }

    @Test func billionLaughsIsRefusedQuickly() {
        var text = "strata: 1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...8 {
            let refs = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            text += "a\(level): &a\(level) [\(refs)]\n"
        }
        let clock = ContinuousClock()
        let start = clock.now
        let result = PipelineCompiler().compile(source: text, path: "lol.yaml")
        #expect(clock.now - start < .seconds(2))
        #expect(result.diagnostics.map(\.code) == [.aliasExpansionTooLarge])
    }

    @Test func aliasesAndMergeKeysWork() {
        let result = PipelineCompiler().compile(
            source: Self.gpt + """
                defaults: &base { temperature: 0.8, max_tokens: 100 }
                layers:
                  - ensemble:
                      - { model: gpt, samples: 2, <<: *base }
                  - fuse:
                      - { <<: *base, model: gpt, temperature: 0.2 }
                """, path: "main.yaml")
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let fuse = result.compiled?.pipeline.layers[1].entries[0].sampling
        #expect(fuse?.temperature == 0.2)
        #expect(fuse?.maxTokens == 100)
    }

    @Test func versionKey() {
        expectDiagnostics(
            """
            1️⃣models:
              gpt: { provider: openai, model: gpt-4o-mini }
            layers:
              - ensemble: [gpt]
            """, [("1️⃣", .missingVersion)])
        expectDiagnostics(
            """
            strata: 1️⃣2
            models:
              gpt: { provider: openai, model: gpt-4o-mini }
            layers:
              - ensemble: [gpt]
            """, [("1️⃣", .unsupportedVersion)])
    }

    @Test func layerShape() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [gpt, gpt]
                  - rank: { model: gpt, top_k: 1 }
                    1️⃣fuse: [gpt]
                  - 2️⃣verify: {}
                  - 3️⃣frobnicate: { model: gpt }
                """, [("1️⃣", .layerKind), ("2️⃣", .missingKey), ("3️⃣", .unknownKey)])
        expectDiagnostics(
            """
            strata: 1
            1️⃣layers: []
            """, [("1️⃣", .noLayers)])
    }

    @Test func ensembleMustComeFirstAndOnce() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - 1️⃣fuse: [gpt]
                  - 2️⃣ensemble: [gpt]
                """, [("1️⃣", .ensemblePlacement), ("2️⃣", .ensemblePlacement)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [gpt, gpt]
                  - rank: { model: gpt, top_k: 1 }
                  - 1️⃣ensemble: [gpt]
                """, [("1️⃣", .ensemblePlacement)])
    }

    @Test func modelsMustBeDeclaredWellAndUsed() {
        expectDiagnostics(
            """
            strata: 1
            models:
              gpt: { provider: openai, model: gpt-4o-mini }
              1️⃣spare: { provider: openai, model: gpt-4o }
              2️⃣local: { provider: openai-compatible, model: qwen }
              3️⃣nameless: { provider: anthropic }
              keyed: { provider: openai, model: gpt-4o, api_key_env: 4️⃣sk-abcdef0123456789abcdef0123456789, base_url: 5️⃣ftp://x }
            layers:
              - ensemble: [gpt, local, nameless, keyed]
            """,
            [
                ("1️⃣", .unusedModel), ("2️⃣", .providerSetting), ("3️⃣", .missingKey), ("4️⃣", .providerSetting),
                ("5️⃣", .providerSetting),
            ])
    }

    @Test func keysNeverAppearInDiagnostics() {
        let secret = "sk-abcdef0123456789abcdef0123456789"
        let result = PipelineCompiler().compile(
            source: """
                strata: 1
                models:
                  gpt: { provider: openai, model: gpt-4o, api_key_env: \(secret) }
                layers:
                  - ensemble: [gpt]
                """, path: "main.yaml")
        let rendered = DiagnosticRenderer.json(result.diagnostics)
        #expect(!result.diagnostics.isEmpty)
        #expect(!rendered.contains(secret))
    }

    @Test func includesShareModelsAndReportCyclesAndMissingFiles() {
        expectDiagnostics(
            """
            strata: 1
            include: [models.yaml, 1️⃣missing.yaml, layers.yaml]
            models:
              2️⃣gpt: { provider: openai, model: gpt-4o }
            layers:
              - ensemble: [gpt, local]
              - fuse: [gpt]
            """, [("1️⃣", .unreadableFile), ("2️⃣", .duplicateModel), ("3️⃣", .includeCycle), ("4️⃣", .includedFileContent)],
            includes: [
                "models.yaml": """
                strata: 1
                include: 3️⃣main.yaml
                models:
                  gpt: { provider: openai, model: gpt-4o-mini }
                  local: { provider: openai-compatible, model: q, base_url: http://127.0.0.1:8080/v1 }
                """,
                "layers.yaml": """
                strata: 1
                4️⃣layers: []
                """,
            ])
    }

    @Test func rankTopKAgainstThePool() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 4 }]
                  - rank: { model: gpt, top_k: 1️⃣5 }
                  - fuse: [gpt]
                """, [("1️⃣", .topKExceedsPool)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 4 }]
                  - rank: { model: gpt, top_k: 1️⃣4 }
                  - fuse: [gpt]
                """, [("1️⃣", .rankKeepsEverything)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 4 }]
                  - verify: { model: gpt, first_k: 2, on_empty: keep-all }
                  - rank: { model: gpt, top_k: 1️⃣3 }
                  - fuse: [gpt]
                """, [("1️⃣", .topKMayExceedPool)])
    }

    @Test func emptyPoolsNeedAPolicy() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 4 }]
                  - verify: { model: gpt }
                  - 1️⃣fuse: [gpt]
                """, [("1️⃣", .possiblyEmptyPool)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 4 }]
                  - unit-test: { model: gpt, top_k: 1 }
                  - 1️⃣unit-test: { model: gpt, mode: execute, top_k: 1, on_empty: fail }
                """, [("1️⃣", .possiblyEmptyPool)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 4 }]
                  - 1️⃣verify: { model: gpt, first_k: 1 }
                """, [("1️⃣", .finalPoolMayBeEmpty)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 4 }]
                  - verify: { model: gpt, first_k: 1, on_empty: fail }
                """, [])
    }

    @Test func finalPoolWithSeveralCandidatesIsAWarning() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - 1️⃣ensemble: [{ model: gpt, samples: 3 }]
                """, [("1️⃣", .finalPoolMultiple)])
    }

    @Test func critiquesNobodyReads() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 3 }]
                  - 1️⃣critique: { model: gpt }
                  - critique: { model: gpt }
                  - rank: { model: gpt, top_k: 1 }
                  - 2️⃣critique: { model: gpt }
                """, [("1️⃣", .critiqueUnread), ("2️⃣", .critiqueUnread)])
    }

    @Test func largeFusesAndContextWindows() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 30 }]
                  - 1️⃣fuse: [gpt]
                """, [("1️⃣", .largeFuse)])
        expectDiagnostics(
            """
            strata: 1
            models:
              small: { provider: openai-compatible, model: q, base_url: http://127.0.0.1:8080/v1, context_window: 4096 }
            defaults: { max_tokens: 1000 }
            layers:
              - ensemble: [{ model: small, samples: 5 }]
              - 1️⃣fuse: [small]
            """, [("1️⃣", .contextOverflow)])
    }

    @Test func capabilitiesMustFit() {
        expectDiagnostics(
            """
            strata: 1
            models:
              local: { provider: openai-compatible, model: q, base_url: http://127.0.0.1:8080/v1 }
            layers:
              - ensemble: [{ model: local, samples: 3 }]
              - rank: { model: local, top_k: 1, structured: 1️⃣always }
            """, [("1️⃣", .missingCapability)])
    }

    @Test func promptOverridesAreChecked() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 3 }]
                  - rank:
                      model: gpt
                      top_k: 1
                      prompt: 1️⃣"Rank these for {qeury}: {candidates}"
                  - verify:
                      model: gpt
                      on_empty: keep-all
                      verdict_prompt: 2️⃣"Is it right? {candidate}"
                """, [("1️⃣", .promptPlaceholder), ("1️⃣", .promptPlaceholder), ("2️⃣", .promptPlaceholder)])
    }

    @Test func samplingAtTemperatureZeroRepeatsItself() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 1️⃣5, temperature: 0 }]
                  - rank: { model: gpt, top_k: 1 }
                """, [("1️⃣", .identicalSamples)])
    }

    @Test func verifyFirstKAndUnitTestSources() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 3 }]
                  - verify: { model: gpt, first_k: 1️⃣3, on_empty: keep-all }
                  - unit-test: { model: gpt, test_source: 2️⃣dataset, top_k: 1, on_empty: keep-all }
                """, [("1️⃣", .firstKNeverStops), ("2️⃣", .unknownValue)])
        // Dataset tests in execute mode need no model at all.
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 3 }]
                  - unit-test: { mode: execute, test_source: dataset, top_k: 1, on_empty: keep-all }
                """, [])
    }

    @Test func writeTestsComeFirstAndFeedTheirGrader() {
        // The accepted shape: tests first, then the ensemble, graded by the same tests.
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - write-tests: { model: gpt, tests: 3 }
                  - ensemble: [{ model: gpt, samples: 3 }]
                  - unit-test: { model: gpt, test_source: written, top_k: 1, on_empty: keep-all }
                """, [])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 3 }]
                  - 1️⃣write-tests: { model: gpt }
                  - rank: { model: gpt, top_k: 1 }
                """, [("1️⃣", .ensemblePlacement)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - write-tests: { model: gpt }
                  - 1️⃣vote: { extractor: numeric }
                  - 2️⃣ensemble: [{ model: gpt, samples: 3 }]
                """, [("1️⃣", .ensemblePlacement), ("2️⃣", .ensemblePlacement)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - 1️⃣write-tests: { model: gpt }
                """, [("1️⃣", .ensemblePlacement)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 3 }]
                  - unit-test: { model: gpt, test_source: 1️⃣written, top_k: 1, on_empty: keep-all }
                """, [("1️⃣", .writtenTestsMissing)])
        // Tests written as statements cannot be executed; a grader of written tests writes none itself.
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - write-tests: { model: gpt }
                  - ensemble: [{ model: gpt, samples: 3 }]
                  - unit-test: { mode: 1️⃣execute, test_source: written, tests: 2️⃣4, prompt: 3️⃣"Tests for {query}", top_k: 1, on_empty: keep-all }
                """, [("1️⃣", .writtenTestsMode), ("2️⃣", .unknownKey), ("3️⃣", .promptPlaceholder)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - 1️⃣write-tests: { model: gpt, show: false }
                  - ensemble: [{ model: gpt, samples: 3 }]
                  - fuse: [gpt]
                """, [("1️⃣", .writtenTestsUnused)])
    }

    @Test func shownTestsCountInEveryLaterPrompt() throws {
        // 20 tests of up to 100 tokens shown to a fuser of 3 × 1,000 tokens (its prompt quotes the query twice):
        // past a 6,000-token window only with the tests.
        func pipeline(show: Bool, tests: Int = 20) -> String {
            """
            strata: 1
            models:
              small: { provider: openai, model: gpt-4o-mini, context_window: 6000 }
            layers:
              - write-tests: { model: small, max_tokens: 2000, tests: \(tests), show: \(show) }
              - ensemble: [{ model: small, samples: 3, max_tokens: 1000 }]
              - unit-test: { model: small, test_source: written, top_k: 3, on_empty: keep-all, max_tokens: 200 }
              - fuse: [{ model: small, max_tokens: 500 }]
            """
        }
        let shown = PipelineCompiler().compile(source: pipeline(show: true), path: "shown.yaml")
        #expect(shown.diagnostics.map(\.code) == [.contextOverflow])
        #expect(shown.diagnostics.first?.range.start.line == 8)
        // Five statements are bounded by their count (the runtime cuts each at 100 tokens), not by the writer's 2,000.
        let five = PipelineCompiler().compile(source: pipeline(show: true, tests: 5), path: "five.yaml")
        #expect(five.diagnostics.isEmpty)
        let hidden = PipelineCompiler().compile(source: pipeline(show: false), path: "hidden.yaml")
        #expect(hidden.diagnostics.isEmpty)
        // One test writer, the samples (one request with n), 3 judges (no second writer), one fuser.
        let graph = try #require(hidden.compiled?.graph)
        #expect(
            graph.nodes.filter(\.operation.isCall).map(\.operation.rawValue) == [
                "write-tests", "generate", "judge-tests", "judge-tests", "judge-tests", "fuse",
            ])
        #expect(hidden.compiled?.cost.total.calls == 6)
    }

    @Test func quorumIsAtMostTheSamples() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: { models: [{ model: gpt, samples: 4 }], quorum: 1️⃣5 }
                  - fuse: [gpt]
                """, [("1️⃣", .quorumExceedsSamples)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: { models: [{ model: gpt, samples: 4 }], quorum: 3 }
                  - rank: { model: gpt, top_k: 1️⃣4 }
                  - fuse: [gpt]
                """, [("1️⃣", .topKExceedsPool)])
    }

    @Test func earlyStopFollowsTheEnsemble() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 5 }]
                  - rank: { model: gpt, top_k: 4 }
                  - vote: { extractor: numeric, early_stop: 1️⃣unbeatable }
                  - fuse: [gpt]
                """, [("1️⃣", .earlyStopPlacement)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 5 }]
                  - vote: { early_stop: 0.9, wave: 2 }
                  - fuse: [gpt]
                """, [])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: { models: [{ model: gpt, samples: 5 }], quorum: 4 }
                  - vote: { early_stop: 1️⃣0.9 }
                  - fuse: [gpt]
                """, [("1️⃣", .earlyStopPlacement)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 5 }]
                  - vote: { early_stop: 1️⃣1.5 }
                  - fuse: [gpt]
                """, [("1️⃣", .outOfRange)])
    }

    @Test func aConfidenceVoteNeedsModelsThatReturnLogprobs() {
        let sure = """
            strata: 1
            models:
              gpt: { provider: openai, model: gpt-4o-mini, capabilities: { logprobs: true } }
              blind: { provider: openai, model: gpt-4o }

            """
        expectDiagnostics(
            sure + """
                layers:
                  - ensemble: [{ model: gpt, samples: 3 }, { model: blind, samples: 2 }]
                  - vote: { weight: 1️⃣confidence, keep: 2️⃣50% }
                  - fuse: [gpt]
                """, [("1️⃣", .missingCapability), ("2️⃣", .missingCapability)])
        expectDiagnostics(
            sure + """
                layers:
                  - ensemble: [{ model: gpt, samples: 5 }]
                  - vote: { weight: confidence, keep: 50%, early_stop: { consensus: 0.9 } }
                  - fuse: [blind]
                """, [])
        expectDiagnostics(
            sure + """
                layers:
                  - ensemble: [{ model: gpt, samples: 5 }]
                  - vote: { early_stop: 1️⃣{ consensus: 0.9 }, keep: 2️⃣half }
                  - fuse: [blind]
                """, [("1️⃣", .consensusCountsOnly), ("2️⃣", .wrongType)])
        expectDiagnostics(
            sure + """
                layers:
                  - ensemble: [{ model: gpt, samples: 5 }]
                  - vote: { early_stop: { window: 1️⃣1 } }
                  - fuse: [blind]
                """, [("1️⃣", .outOfRange)])
    }

    @Test func routesAreCheckedBranchByBranch() {
        let models = """
            strata: 1
            models:
              gpt: { provider: openai, model: gpt-4o-mini, capabilities: { logprobs: true } }
              blind: { provider: openai, model: gpt-4o }

            """
        expectDiagnostics(
            models + """
                layers:
                  - route:
                      cascade: { threshold: 0.8, measure: confidence }
                      branches:
                        quick: [ { ensemble: [gpt] } ]
                        careful:
                          - ensemble: [{ model: blind, samples: 5 }]
                          - vote: {}
                          - fuse: [gpt]
                """, [])
        expectDiagnostics(
            models + """
                layers:
                  - route:
                      cascade: { threshold: 0.8, measure: confidence }
                      branches:
                        1️⃣quick: [ { ensemble: [blind] } ]
                        careful: [ { ensemble: [gpt] } ]
                """, [("1️⃣", .routeMeasure)])
        expectDiagnostics(
            models + """
                layers:
                  - route:
                      match:
                        - 1️⃣{ longer_than: 400, branch: carefull }
                        - 2️⃣{ longer_than: 400, branch: quick }
                      default: quick
                      branches:
                        quick: [ { ensemble: [gpt] } ]
                        3️⃣careful: [ { ensemble: [gpt] }, { rank: { model: gpt, top_k: 4️⃣3 } } ]
                        5️⃣spare: [ { ensemble: [blind] } ]
                """,
            [
                ("1️⃣", .unknownBranch), ("2️⃣", .unreachableBranch), ("3️⃣", .unreachableBranch), ("4️⃣", .topKExceedsPool),
                ("5️⃣", .unreachableBranch),
            ])
        expectDiagnostics(
            models + """
                layers:
                  - ensemble: [gpt, blind]
                  - 1️⃣route:
                      cascade: { threshold: 0.5 }
                      branches:
                        a: [ { ensemble: [gpt] } ]
                        b: [ { ensemble: [gpt] }, { 2️⃣route: { cascade: { threshold: 0.5 }, branches: { c: [ { ensemble: [gpt] } ] } } } ]
                """, [("1️⃣", .routePlacement), ("2️⃣", .routePlacement)])
        expectDiagnostics(
            models + """
                layers:
                  - route:
                      classify: { model: 1️⃣gtp, table: { 1: quick, 5: careful } }
                      default: 2️⃣carefull
                      branches:
                        quick: [ { ensemble: [gpt] } ]
                        careful: [ { ensemble: [blind] } ]
                """, [("1️⃣", .undeclaredModel), ("2️⃣", .unknownBranch)])
    }

    @Test func voteNeedsVoters() {
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 2 }]
                  - 1️⃣vote: { extractor: numeric }
                  - fuse: [gpt]
                """, [("1️⃣", .fewVoters)])
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - ensemble: [{ model: gpt, samples: 5 }]
                  - vote: { extractor: 1️⃣number }
                  - fuse: [gpt]
                """, [("1️⃣", .unknownValue)])
    }

    @Test func budgetsAreCheckedAgainstTheWorstCase() {
        let source =
            Self.gpt + """
                budget:
                  calls: 1️⃣8
                  usd: 2️⃣0.0001
                layers:
                  - ensemble: [{ model: gpt, samples: 4 }]
                  - verify: { model: gpt, on_empty: keep-all }
                  - fuse: [gpt]
                """
        expectDiagnostics(source, [("1️⃣", .budgetExceeded), ("2️⃣", .budgetExceeded)])
        let result = PipelineCompiler().compile(source: MarkedSource(source).text, path: "main.yaml")
        let calls = result.diagnostics.first { $0.range.start.line == 5 }
        // 4 generations in one request (OpenAI takes n) + 2×4 verify calls + 1 fuse = 10,
        // over 8 by 2; verify is the costliest layer.
        #expect(calls?.message.contains("10 calls, over the budget of 8 by 2") == true)
        #expect(calls?.notes.first?.message.hasPrefix("layer 2 (verify) costs the most: 8 calls") == true)
        #expect(result.estimate?.cost.total.calls == 10)
    }

    @Test func absurdExpansionsAreRefused() {
        let entries = (0..<11).map { _ in "{ model: gpt, samples: 100000 }" }.joined(separator: ", ")
        expectDiagnostics(
            Self.gpt + """
                layers:
                  - 1️⃣ensemble: [\(entries)]
                  - 2️⃣rank: { model: gpt, top_k: 1 }
                """, [("1️⃣", .tooManyCalls), ("2️⃣", .contextOverflow)])
    }

    @Test func everyDiagnosticCodeIsExercisedByAGoldenTest() throws {
        // E007 for a main file is exercised by the CLI tests; everything else in
        // this folder's golden tests (pipelines here, search spaces next door), and
        // the Archon importer's codes in its own tests' markers.
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let importer = folder.deletingLastPathComponent().appendingPathComponent("StrataImportTests")
        let here = try [folder, importer].flatMap { directory in
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix("Tests.swift") }
                .map { try String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8) }
        }.joined(separator: "\n")
        let unexercised = DiagnosticCode.allCases.filter { code in
            let name = String(describing: code)
            return !here.contains(".\(name))") && !here.contains(".\(name)]")
        }
        #expect(unexercised.isEmpty, "no golden test for \(unexercised)")
    }
}
