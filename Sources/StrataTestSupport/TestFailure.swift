import Strata

/// Why a test's setup could not go on (a pipeline that does not compile, a
/// server that did not answer), with the whole story in its description.
package struct TestFailure: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// Compiles pipeline source, or throws its rendered diagnostics.
package func compiled(_ source: String, path: String = "test.yaml") throws -> CompiledPipeline {
    let result = PipelineCompiler().compile(source: source, path: path)
    guard let compiled = result.compiled else {
        throw TestFailure(DiagnosticRenderer(sources: result.sources).render(result.diagnostics))
    }
    return compiled
}
