import StrataCompiler
import StrataDiagnostics
import StrataImport
import StrataSearch
import StrataSyntax

extension PipelineCompiler {
    /// Checks the file at `path`, which may be a pipeline, a file of shared
    /// models and defaults that pipelines include, or a search space (checked
    /// as a file, then for at least one feasible configuration).
    public func check(path: String) -> CompileResult {
        if Self.isArchonConfiguration(path) { return compileFile(path: path) }
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

    /// Compiles a pipeline file, or an Archon JSON configuration (`.json`)
    /// imported in memory, its diagnostics at the JSON's positions.
    public func compileFile(path: String) -> CompileResult {
        guard Self.isArchonConfiguration(path) else { return compile(path: path) }
        let imported = ArchonImporter.importFile(path: path)
        return CompileResult(compiled: imported.compiled, estimate: nil, diagnostics: imported.diagnostics, sources: imported.sources)
    }

    /// Archon's configurations are JSON; Strata's pipelines are YAML.
    public static func isArchonConfiguration(_ path: String) -> Bool { path.lowercased().hasSuffix(".json") }
}
