import Foundation
import Strata
import StrataTestSupport
import Testing

/// What the importer says about each construct that does not map, at the
/// marked position of small hand-written configurations.
@Suite struct ArchonDiagnosticTests {
    /// Imports `marked` (markers removed) and expects exactly these codes at these markers.
    func expectImport(
        _ marked: String, _ expected: [(marker: String, code: DiagnosticCode)],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let source = MarkedSource(marked)
        let imported = ArchonImporter.importText(source.text, path: "config.json", options: ArchonImportOptions())
        let actual = imported.diagnostics.map { "\($0.range.start) \($0.code.rawValue)" }.sorted()
        let wanted = expected.map { "\(source.markers[$0.marker].map { "\($0)" } ?? "?") \($0.code.rawValue)" }.sorted()
        #expect(
            actual == wanted, Comment(rawValue: "\n" + DiagnosticRenderer(sources: imported.sources).render(imported.diagnostics)),
            sourceLocation: sourceLocation)
    }

    static func generator(model: String = "gpt-4o", type: String = "OpenAI_API", samples: Int = 1, extra: String = "") -> String {
        #"{"type": "generator", "model": "\#(model)", "model_type": "\#(type)", "temperature": 0.7, "max_tokens": 2048, "samples": \#(samples)\#(extra)}"#
    }

    @Test func aTypoIsIgnoredAsArchonIgnoresItWithAFixIt() {
        expectImport(
            """
            {"name": "typo", "layers": [[\(Self.generator(samples: 3))],
              [{"type": "critic", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 1}],
              [{"type": "fuser", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 1, 1️⃣"length_contorl": true}]]}
            """, [("1️⃣", .archonIgnoredKey)])
        let imported = ArchonImporter.importText(
            #"{"layers": [[\#(Self.generator(extra: #", "sampels": 3"#))]]}"#, path: "config.json")
        let typo = imported.diagnostics.first { $0.code == .archonIgnoredKey }
        #expect(typo?.message.contains("did you mean \"samples\"") == true)
        #expect(typo?.fixIts.first?.edits.first?.replacement == "\"samples\"")
    }

    @Test func invalidJSONIsReportedWhereItBreaks() {
        expectImport(
            """
            {"name": "broken", "layers": [[{"type": "generator"1️⃣tor"tor", "model": "x"}]]}
            """, [("1️⃣", .archonInvalidJSON)])
    }

    @Test func unknownProvidersPairRMAndMixedLayersAreRefused() {
        expectImport(
            """
            {"layers": [[\(Self.generator(samples: 4))],
              [{"type": "ranker", 1️⃣"model": "llm-blender/PairRM", "model_type": "", "temperature": 0.7, "max_tokens": 2048, "top_k": 2}]]}
            """, [("1️⃣", .archonRewardModelRanker)])
        expectImport(
            """
            {"layers": [[{"type": "generator", "model": "meta.llama3", 1️⃣"model_type": "Bedrock_API", "temperature": 0.7, "max_tokens": 2048}]]}
            """, [("1️⃣", .archonUnsupportedProvider)])
        expectImport(
            """
            {"layers": [1️⃣[\(Self.generator()), {"type": "fuser", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048}]]}
            """, [("1️⃣", .archonLayerShape)])
        expectImport(
            """
            {"layers": [[\(Self.generator())], [2️⃣{"type": "summarizer", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048}]]}
            """.replacingOccurrences(of: "2️⃣{\"type\": ", with: "{\"type\": 2️⃣"), [("2️⃣", .archonCustomComponent)])
    }

    @Test func missingKeysAndWrongTypes() {
        expectImport(
            """
            {"layers": [[1️⃣{"type": "generator", "model": "gpt-4o", "model_type": "OpenAI_API", "max_tokens": 2048}],
              [{"type": "critic", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 2️⃣"warm", "max_tokens": 2048, "samples": 1}]]}
            """, [("1️⃣", .archonStructure), ("2️⃣", .archonStructure)])
    }

    @Test func staleCritiquesAndLengthControlWithoutCritiques() {
        expectImport(
            """
            {"layers": [[\(Self.generator(samples: 4))],
              [{"type": "critic", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 1}],
              [{"type": "fuser", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 2}],
              1️⃣[{"type": "fuser", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, 2️⃣"length_control": true}]]}
            """, [("1️⃣", .archonStaleCritiques), ("2️⃣", .archonLengthControlUnused)])
    }

    @Test func unitTestsWrittenFirstAreShownToEveryLayerAndGradedByTheEvaluator() {
        // The writer on one model, the grader on another (Archon's 405B writes, 70B grades).
        let config = """
            {"layers": [[{"type": "unit_test_generator", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 1, "unit_test_cap": 5}],
              [\(Self.generator(samples: 5))],
              [{"type": "unit_test_evaluator", "model": "gpt-4o-mini", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 1, "remove_unit_tests_from_prompt": true, "top_k": 1}]]}
            """
        expectImport(config, [])
        let imported = ArchonImporter.importText(config, path: "c.json", options: ArchonImportOptions())
        let yaml = imported.yaml ?? ""
        #expect(yaml.contains("  # $.layers[0]\n  - write-tests: { model: gpt-4o, tests: 5 }\n"))
        #expect(yaml.contains("- unit-test: { model: gpt-4o-mini, mode: judge, test_source: written, top_k: 1, on_empty: keep-all }"))
        // Tests without an evaluator are still shown to every later layer, as Archon does.
        let shownOnly = ArchonImporter.importText(
            """
            {"layers": [[{"type": "unit_test_generator", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 1, "unit_test_cap": 3}],
              [\(Self.generator(samples: 3))], [{"type": "fuser", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 1}]]}
            """, path: "c.json", options: ArchonImportOptions())
        #expect(shownOnly.diagnostics.isEmpty)
        #expect(shownOnly.yaml?.contains("- write-tests: { model: gpt-4o, tests: 3 }") == true)
        #expect(shownOnly.yaml?.contains("unit-test") == false)
    }

    @Test func aContextOverflowIsReportedAtTheArchonComponent() {
        // Ten 2,048-token candidates cannot fit a 4,096-token window.
        expectImport(
            """
            {"layers": [[\(Self.generator(model: "meta-llama/Llama-3-70b-chat-hf", type: "Together_API", samples: 10))],
              2️⃣[{"type": "fuser", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048},
               1️⃣{"type": "fuser", "model": "deepseek-ai/deepseek-llm-67b-chat", "model_type": "Together_API", "temperature": 0.7, "max_tokens": 2048}]]}
            """, [("1️⃣", .contextOverflow), ("2️⃣", .finalPoolMultiple)])
        let imported = ArchonImporter.importText(
            MarkedSource(
                """
                {"layers": [[\(Self.generator(model: "meta-llama/Llama-3-70b-chat-hf", type: "Together_API", samples: 10))],
                  [{"type": "fuser", "model": "deepseek-ai/deepseek-llm-67b-chat", "model_type": "Together_API", "temperature": 0.7, "max_tokens": 2048}]]}
                """
            ).text, path: "c.json")
        #expect(imported.diagnostics.first { $0.code == DiagnosticCode.contextOverflow }?.message.hasPrefix("$.layers[1][0]: ") == true)
        #expect(imported.yaml != nil, "the pipeline is still written, for -o")
    }

    @Test func theImportIsWrittenAsDocumented() throws {
        let imported = ArchonImporter.importText(
            """
            {"name": "sample-rank-fuse", "layers": [[\(Self.generator(samples: 10))],
              [{"type": "ranker", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "top_k": 5, "use_critiques": false}],
              [{"type": "critic", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 1}],
              [{"type": "fuser", "model": "claude-3-5-sonnet-20240620", "model_type": "Anthropic_API", "temperature": 0.7, "max_tokens": 200000, "length_control": true}]]}
            """, path: "configs/example.json")
        #expect(!imported.hasErrors, "\(DiagnosticRenderer(sources: imported.sources).render(imported.diagnostics))")
        let yaml = try #require(imported.yaml)
        let body = yaml.split(separator: "\n").dropFirst().joined(separator: "\n")
        #expect(yaml.hasPrefix("# Imported by `strata import archon` from example.json (sha256 "))
        #expect(
            body == """
                # Structure and sampling are Archon's; prompts are Strata's own. Each layer names its JSON path.
                strata: 1
                name: "sample-rank-fuse"
                models:
                  gpt-4o: { provider: openai, model: "gpt-4o", context_window: 128000 }
                  claude-3-5-sonnet-20240620: { provider: anthropic, model: "claude-3-5-sonnet-20240620", context_window: 200000 }
                defaults: { temperature: 0.7, max_tokens: 2048 }
                layers:
                  # $.layers[0]
                  - ensemble:
                      prompt: "You are a helpful assistant"
                      models:
                        - { model: gpt-4o, samples: 10 }
                  # $.layers[1]
                  - rank: { model: gpt-4o, top_k: 5 }
                  # $.layers[2]
                  - critique: { model: gpt-4o }
                  # $.layers[3]
                  - fuse:
                      models:
                        - { model: claude-3-5-sonnet-20240620, max_tokens: 4096 }
                      length_control: true
                """)
    }

    @Test func theOtherConstructsEachHaveTheirCode() {
        let fuser = #"{"type": "fuser", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048}"#
        // A dead generator layer; a critic asked for three samples makes one call; a bare component as a layer.
        expectImport(
            """
            {"layers": [1️⃣[\(Self.generator(samples: 2))], [\(Self.generator(samples: 4))],
              [{"type": "critic", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, 2️⃣"samples": 3}],
              3️⃣\(fuser)]}
            """, [("1️⃣", .archonDeadGeneratorLayer), ("2️⃣", .archonSingleCall), ("3️⃣", .archonBareLayer)])
        // o1 is sent sampling settings Archon leaves out; an id with no known context window.
        expectImport(
            """
            {"layers": [3️⃣[{"type": "generator", 1️⃣"model": "o1-preview-2024-09-12", "model_type": "OpenAI_API", "temperature": 1.0, "max_tokens": 2048, "no_system": true},
              {"type": "generator", 2️⃣"model": "acme/unheard-of-7b", "model_type": "Together_API", "temperature": 0.7, "max_tokens": 512}]]}
            """, [("1️⃣", .archonTransport), ("2️⃣", .archonUnknownContextWindow), ("3️⃣", .finalPoolMultiple)])
        // Tests without a count, an evaluator without top_k, and one whose first_k is above its top_k.
        let writer = #"{"type": "unit_test_generator", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 1}"#
        expectImport(
            """
            {"layers": [[1️⃣\(writer)], [\(Self.generator(samples: 3))],
              [2️⃣{"type": "unit_test_evaluator", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 1, "remove_unit_tests_from_prompt": true}]]}
            """, [("1️⃣", .archonTestCount), ("2️⃣", .archonZeroPassKept), ("2️⃣", .finalPoolMultiple)])
        // The evaluator's first_k (first_pass is first_k 1) becomes the unit-test layer's.
        let imported = ArchonImporter.importText(
            """
            {"layers": [[\(writer.replacingOccurrences(of: "\"samples\": 1", with: "\"samples\": 1, \"unit_test_cap\": 3"))], [\(Self.generator(samples: 3))],
              [{"type": "unit_test_evaluator", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 1, "remove_unit_tests_from_prompt": true, "top_k": 1, "first_k": 2}]]}
            """, path: "c.json", options: ArchonImportOptions())
        #expect(imported.yaml?.contains("- write-tests: { model: gpt-4o, tests: 3 }") == true)
        #expect(imported.yaml?.contains("- unit-test: { model: gpt-4o, mode: judge, test_source: written, top_k: 1, first_k: 2, on_empty: keep-all }") == true)
        #expect(!imported.hasErrors)
    }
}
