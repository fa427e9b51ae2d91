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
