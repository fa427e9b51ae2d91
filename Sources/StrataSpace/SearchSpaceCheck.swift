import StrataCompiler
import StrataDiagnostics
import StrataSyntax

extension SearchSpaceLoader {
    /// `strata check` of a search file: its own diagnostics, then whether any
    /// configuration is feasible (a probe of at most `probeLimit` of them).
    public static func check(text: String, path: String, includeRoots: [String], probeLimit: Int) -> CompileResult {
        let loaded = load(text: text, path: path)
        var diagnostics = loaded.diagnostics
        var sources = loaded.sources
        if var space = loaded.space {
            space.includeRoots = includeRoots
            if let (diagnostic, exampleSources) = SpaceFeasibility.diagnostic(space: space, limit: probeLimit) {
                diagnostics.append(diagnostic)
                for file in exampleSources.all { sources.add(file) }
            }
        }
        return CompileResult(compiled: nil, estimate: nil, diagnostics: diagnostics, sources: sources)
    }
}
