import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

/// Imported configurations answer queries: against the test server (every
/// model sent there with `baseURL`), through the runtime and the real binary.
@Suite struct ArchonRunTests {
    static let configs = [
        "Llama-3.1-405B_10samples_rank_top_3_then_critic_then_fuse.json",
        "7B_models_1_sample_then_qwen_110B_ranker_then_qwen_110B_critic_then_qwen_110B_fuser.json",
        // Tests written first by one model, shown to the generators, graded by another.
        "archon-code_70Bx6_1_samples_then_unit_test_generation_with_llama_3.1_405B_then_unit_test_evaluation_with_llama_3.1_70B_then_pass_top_cand.json",
        "archon-gpt-4o_Sonnet_3.5_unit_tests_first_then_sample_10_then_critic_then_fuse.json",
    ]

    @Test(arguments: configs) func anImportedConfigurationAnswersWithTheCallsItsCostSays(_ file: String) async throws {
        let server = try ScriptedLLMServer()
        let path = ArchonCorpusTests.root.appendingPathComponent(file).path
        let imported = ArchonImporter.importFile(path: path, options: ArchonImportOptions(baseURL: server.baseURL))
        let compiled = try #require(imported.compiled, "\(DiagnosticRenderer(sources: imported.sources).render(imported.diagnostics))")
        let runtime = try PipelineRuntime(compiled: compiled, options: RuntimeOptions(retry: quickRetry, environment: [:]))
        let result = await runtime.run(Query(prompt: "What is 17 × 23?"))
        try await runtime.shutdown()
        #expect(result.answer != nil, "\(result.failure ?? "")")
        #expect(result.usage.calls == compiled.cost.total.calls)
        #expect(server.requestCount == compiled.cost.total.calls)
        if compiled.pipeline.layers.first?.kind == .writeTests {
            // The writer goes first; every generator's query carries its tests.
            let requests = server.requests
            #expect(requests.first?.promptText.contains("unit tests for the instruction") == true)
            let generators = requests.filter { $0.promptText.hasPrefix("You are a helpful assistant") }
            #expect(!generators.isEmpty)
            #expect(generators.allSatisfy { $0.promptText.contains("Your response should pass the following unit tests:\n- The response answers.") })
        }
    }

    @Test func theBinaryImportsChecksAndRunsAConfiguration() async throws {
        let server = try ScriptedLLMServer()
        let directory = try temporaryDirectory()
        let source = ArchonCorpusTests.root.appendingPathComponent(Self.configs[0]).path
        let output = directory.appendingPathComponent("imported.yaml").path
        let imported = try await StrataBinary.run(["import", "archon", source, "--base-url", server.baseURL, "-o", output], in: directory)
        #expect(imported.status == 0, "\(imported.stderr)")
        let yaml = try String(contentsOfFile: output, encoding: .utf8)
        #expect(yaml.contains("# $.layers[1]"))
        let run = try await StrataBinary.run(["run", output, "--prompt", "Hello", "--cache", "off"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        // Archon JSON goes straight into check and compile too.
        let check = try await StrataBinary.run(["check", source], in: directory)
        #expect(check.status == 0, "\(check.stderr)")
        let cost = try await StrataBinary.run(["compile", source, "--emit", "cost"], in: directory)
        #expect(cost.status == 0, "\(cost.stderr)")
        #expect(cost.stdout.contains("rank"))
        // A refused configuration: exit 1, the error at its JSON position.
        let broken = directory.appendingPathComponent("pairrm.json").path
        try
            #"{"layers": [[{"type": "generator", "model": "gpt-4o", "model_type": "OpenAI_API", "temperature": 0.7, "max_tokens": 2048, "samples": 3}], [{"type": "ranker", "model": "llm-blender/PairRM", "model_type": "", "temperature": 0.7, "max_tokens": 2048, "top_k": 1}]]}"#
            .write(toFile: broken, atomically: true, encoding: .utf8)
        let refused = try await StrataBinary.run(["import", "archon", broken], in: directory)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("pairrm.json:1:") && refused.stderr.contains("error[E074]"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)
    }
}
