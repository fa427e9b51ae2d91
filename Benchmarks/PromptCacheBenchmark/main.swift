// Benchmarks/README.md "Cached input on a provider that caches as OpenAI does": the share of downstream
// input a provider's prompt cache serves, and the dollars it saves, for each pipeline in its prefix-sharing
// layout (the built-in prompts) and in the layout its prompts had before (Benchmarks/PrefixCache/*-naive.yaml),
// side by side in one run. The provider is the test server playing OpenAI's published rule: a prompt prefix
// another prompt began with is cached from 1,024 tokens, in steps of 128, a token counted per four bytes.
// Run: `swift run PromptCacheBenchmark [QUESTIONS]` from the package root (token counts, so a debug build serves).
import Foundation
import Strata
import StrataSyntax
import StrataTestServer

let root = FileManager.default.currentDirectoryPath
let questions = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 5
// gpt-4.1's list prices in USD per million tokens; cached input is a quarter of input.
let price = (input: 2.0, output: 8.0, cachedInput: 0.5)

/// Samples write drafts of about 1,500 bytes, a critique 300 bytes on each draft; the rest answer as the test server does.
func reply(to request: ReceivedRequest) -> ScriptedReply {
    let prompt = request.promptText
    let seed = request.seed ?? 0
    guard prompt.contains(" follows. ") else {
        return .text("Draft \(seed): " + String(repeating: "step \(seed) follows. ", count: 90) + "#### \(seed % 7)")
    }
    if prompt.contains("Strengths:") {
        let count = ScriptedLLMServer.countCandidates(in: prompt)
        return .text(
            (1...max(1, count)).map {
                "[\($0)] Strengths: " + String(repeating: "clear steps, ", count: 10) + "\nWeaknesses: " + String(repeating: "one slip, ", count: 12)
            }.joined(separator: "\n"))
    }
    return .text(ScriptedLLMServer.defaultAnswer(for: request))
}

/// The pipelines as the repository has them, in a scratch tree whose `Pipelines/models/local.yaml` points at the test server.
func stage(_ server: ScriptedLLMServer, into directory: URL) throws {
    let models = directory.appendingPathComponent("Pipelines/models")
    try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: directory.appendingPathComponent("Benchmarks/PrefixCache"), withIntermediateDirectories: true)
    try """
    strata: 1
    models:
      local:
        provider: openai-compatible
        model: cached-like-openai
        base_url: "\(server.baseURL)"
        capabilities: { n: false, json_schema: false, seed: true, prefix_cache: true }
        price: { input: \(price.input), output: \(price.output), cached_input: \(price.cachedInput) }
    defaults: { temperature: 0.7, max_tokens: 256, seed: 1 }
    """.write(to: models.appendingPathComponent("local.yaml"), atomically: true, encoding: .utf8)
    for file in [
        "Pipelines/quickstart.yaml", "Benchmarks/PrefixCache/quickstart-naive.yaml", "Benchmarks/PrefixCache/critique-fuse.yaml",
        "Benchmarks/PrefixCache/critique-fuse-naive.yaml",
    ] {
        try FileManager.default.copyItem(atPath: "\(root)/\(file)", toPath: directory.appendingPathComponent(file).path)
    }
    // A third shape, both layouts: the critique-fuse pipelines with three fuse samples.
    let shared = try String(contentsOfFile: "\(root)/Benchmarks/PrefixCache/critique-fuse.yaml", encoding: .utf8)
    let naive = try String(contentsOfFile: "\(root)/Benchmarks/PrefixCache/critique-fuse-naive.yaml", encoding: .utf8)
    try shared.replacingOccurrences(of: "{ model: local, temperature: 0.3", with: "{ model: local, samples: 3, temperature: 0.3")
        .write(to: directory.appendingPathComponent("Benchmarks/PrefixCache/critique-fuse3.yaml"), atomically: true, encoding: .utf8)
    try naive.replacingOccurrences(of: "- model: local\n        temperature: 0.3", with: "- model: local\n        samples: 3\n        temperature: 0.3")
        .write(to: directory.appendingPathComponent("Benchmarks/PrefixCache/critique-fuse3-naive.yaml"), atomically: true, encoding: .utf8)
}

struct Measured {
    var calls = 0
    var downstreamInput = 0
    var downstreamCached = 0
    var input = 0
    var usd = 0.0
    /// What the same tokens would cost with no cached-input discount.
    var usdUncached = 0.0
}

func measure(_ path: String, in tree: URL, queries: [Query]) async throws -> Measured {
    let result = PipelineCompiler(loader: SourceLoader(includeRoots: [tree.path])).compile(path: path)
    guard let compiled = result.compiled else {
        throw NSError(domain: "PromptCacheBenchmark", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(path) did not compile: \(result.diagnostics)"])
    }
    let runtime = try PipelineRuntime(compiled: compiled, options: RuntimeOptions(retry: RetryPolicy(maxAttempts: 1)))
    var measured = Measured()
    // One query at a time: a cache serves a prefix only once a call that wrote it has been read.
    for query in queries {
        let run = await runtime.run(query)
        if let failure = run.failure { throw NSError(domain: "PromptCacheBenchmark", code: 2, userInfo: [NSLocalizedDescriptionKey: failure]) }
        measured.calls += run.usage.calls
        measured.input += run.usage.inputTokens
        measured.usd += run.usage.usd
        measured.usdUncached += run.usage.usd + Double(run.usage.promptCachedTokens) * (price.input - price.cachedInput) / 1_000_000
        for layer in run.layers.dropFirst() {
            measured.downstreamInput += layer.usage.inputTokens
            measured.downstreamCached += layer.usage.promptCachedTokens
        }
    }
    try await runtime.shutdown()
    return measured
}

let dataset = try DatasetLoader.load(path: "\(root)/Tests/Fixtures/gsm_symbolic-50-seed7.jsonl")
let queries = dataset.items.prefix(questions).map(\.query)
print("| pipeline | layout | calls / query | downstream input tokens / query | cached | share cached | USD / 1,000 queries | without the cache | saved |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for (name, shared, naive) in [
    ("quickstart (4 samples → rank top 2 → fuse)", "Pipelines/quickstart.yaml", "Benchmarks/PrefixCache/quickstart-naive.yaml"),
    ("critique-fuse (10 samples → critique → fuse)", "Benchmarks/PrefixCache/critique-fuse.yaml", "Benchmarks/PrefixCache/critique-fuse-naive.yaml"),
    (
        "critique-fuse3 (10 samples → critique → 3 fuse samples)", "Benchmarks/PrefixCache/critique-fuse3.yaml",
        "Benchmarks/PrefixCache/critique-fuse3-naive.yaml"
    ),
] {
    for (layout, file) in [("before", naive), ("shared", shared)] {
        // A server of its own per run: nothing one layout's prompts left in the cache serves the other.
        let server = try ScriptedLLMServer { request, _ in reply(to: request) }
        server.simulatePromptCache()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-prompt-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try stage(server, into: directory)
        let m = try await measure(directory.appendingPathComponent(file).path, in: directory, queries: Array(queries))
        server.shutdown()
        let n = Double(queries.count)
        let share = m.downstreamInput > 0 ? Double(m.downstreamCached) / Double(m.downstreamInput) : 0
        print(
            String(
                format: "| %@ | %@ | %.1f | %.0f | %.0f | %.1f%% | $%.2f | $%.2f | %.1f%% |", name, layout, Double(m.calls) / n,
                Double(m.downstreamInput) / n, Double(m.downstreamCached) / n, share * 100, m.usd / n * 1000, m.usdUncached / n * 1000,
                m.usdUncached > 0 ? (1 - m.usd / m.usdUncached) * 100 : 0))
    }
}
