import Foundation
// README example begin
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

struct PipelineFailure: Error {
    var message: String
}

/// Answers a question with the pipeline at `path`, printing what each layer cost.
func ask(_ question: String, pipeline path: String) async throws -> String {
    let result = PipelineCompiler().compile(path: path)
    guard let compiled = result.compiled else {
        throw PipelineFailure(message: DiagnosticRenderer(sources: result.sources).render(result.diagnostics))
    }
    let runtime = try PipelineRuntime(
        compiled: compiled,
        options: RuntimeOptions(
            cache: try ResponseCache(path: ".strata/cache.sqlite")))
    let run = await runtime.run(Query(prompt: question))
    try await runtime.shutdown()
    for layer in run.layers {
        print("\(layer.kind): \(layer.usage.calls) calls, \(layer.usage.outputTokens) tokens out")
    }
    guard let answer = run.answer else { throw PipelineFailure(message: run.failure ?? "no answer") }
    return answer
}
// README example end

@Suite struct ReadmeExampleTests {

    /// The README shows exactly the code above, which this target compiles.
    @Test func readmeShowsTheCompiledExample() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let begin = try #require(source.range(of: "// README example begin\n"))
        let end = try #require(source.range(of: "// README example end"))
        let example = String(source[begin.upperBound..<end.lowerBound])
        #expect(readme.contains("```swift\n" + example + "```"), "README.md's library example differs from ReadmeExampleTests.swift")
    }

    @Test func theExampleRuns() async throws {
        let server = try ScriptedLLMServer()
        let path = temporaryPath("readme.yaml")
        try """
        strata: 1
        models:
          m: { provider: openai-compatible, model: test, base_url: "\(server.baseURL)" }
        layers:
          - ensemble: [{ model: m, samples: 2 }]
          - fuse: [m]
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let answer = try await ask("Why is the sky blue?", pipeline: path)
        #expect(answer.hasPrefix("answer(seed 0)"))
    }
}
