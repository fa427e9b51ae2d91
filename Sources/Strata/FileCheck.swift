import StrataCompiler
import StrataDiagnostics
import StrataSearch
import StrataSyntax

extension PipelineCompiler {
    /// Checks the file at `path`, which may be a pipeline, a file of shared
    /// models and defaults that pipelines include, or a search space (checked
    /// as a file, then for at least one feasible configuration).
    public func check(path: String) -> CompileResult {
        let text: String
        do {
            text = try loader.readFile(path)
        } catch {
            return CompileResult(compiled: nil, estimate: nil, diagnostics: [SourceLoader.unreadable(path, error)], sources: SourceMap())
        }
        if SearchSpaceLoader.isSearchFile(text: text) {
            return SearchSpaceLoader.check(text: text, path: path, includeRoots: loader.includeRoots, probeLimit: feasibilityProbeLimit)
        }
        return checkPipeline(text: text, path: path)
    }
}
