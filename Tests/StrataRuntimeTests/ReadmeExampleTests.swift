import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

// Library.md library example begin
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
// Library.md library example end

@Suite struct ReadmeExampleTests {

    /// The library article shows exactly the code above (after `import Strata`), which this target compiles.
    @Test func readmeShowsTheCompiledExample() throws {
        let article = try String(contentsOf: packageRoot.appendingPathComponent("Sources/Strata/Strata.docc/Library.md"), encoding: .utf8)
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let begin = try #require(source.range(of: "// Library.md library example begin\n"))
        let end = try #require(source.range(of: "// Library.md library example end"))
        let example = String(source[begin.upperBound..<end.lowerBound])
        #expect(article.contains("```swift\nimport Strata\n\n" + example + "```"), "Library.md's example differs from ReadmeExampleTests.swift")
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
