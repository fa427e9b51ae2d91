import StrataChecker
import StrataDiagnostics
import StrataSyntax

/// A pipeline that passed every check, compiled for one query.
public struct CompiledPipeline: Sendable {
    package var pipeline: CheckedPipeline
    /// The execution graph a `PipelineRuntime` runs.
    public var graph: ExecutionGraph
    /// The static worst-case cost of one query.
    public var cost: CostSummary

    /// The graph (or cost table) in one of the `EmitFormat`s.
    public func render(_ format: EmitFormat) -> String {
        GraphRenderer(graph: graph, pipeline: pipeline, cost: cost).render(format)
    }
}

/// What compiling a pipeline file produced: the compiled pipeline when there
/// are no errors, and every diagnostic found either way.
public struct CompileResult: Sendable {
    /// The compiled pipeline; nil when there were errors.
    public var compiled: CompiledPipeline?
    /// The graph as far as it could be built even when there are errors (a
    /// budget overrun, say), so the cost of a broken pipeline can still be shown.
    public var estimate: CompiledPipeline?
    /// Sorted by file and position.
    public var diagnostics: [Diagnostic]
    /// The text of every file read, for `DiagnosticRenderer`.
    public var sources: SourceMap

    /// Whether any diagnostic is an error.
    public var hasErrors: Bool { diagnostics.containsErrors }

    /// A result.
    public init(compiled: CompiledPipeline?, estimate: CompiledPipeline?, diagnostics: [Diagnostic], sources: SourceMap) {
        self.compiled = compiled
        self.estimate = estimate
        self.diagnostics = diagnostics
        self.sources = sources
    }
}

/// The front half of Strata: YAML text → located tree → pipeline syntax →
/// checked pipeline → execution graph with its static cost, each stage
/// reporting into one list of diagnostics.
///
/// ```swift
/// let result = PipelineCompiler().compile(path: "Pipelines/quickstart.yaml")
/// if let compiled = result.compiled {
///     print(compiled.render(.cost))
/// } else {
///     print(DiagnosticRenderer(sources: result.sources).render(result.diagnostics))
/// }
/// ```
public struct PipelineCompiler: Sendable {
    package var loader: SourceLoader
    /// How many configurations `check(path:)` compiles, at most, looking for a
    /// feasible one when the file is a search space.
    public var feasibilityProbeLimit = 500

    /// A compiler that reads files from disk, resolving includes against `STRATA_INCLUDE_PATH`.
    public init() { self.init(loader: SourceLoader()) }

    package init(loader: SourceLoader) {
        self.loader = loader
    }

    /// Compiles the pipeline file at `path` and the files it includes.
    public func compile(path: String) -> CompileResult {
        compile(loader.load(path: path), allowModelsFile: false)
    }

    /// Checks pipeline text read from `path`, which may also be a file of
    /// shared models and defaults that pipelines include.
    public func checkPipeline(text: String, path: String) -> CompileResult {
        compile(loader.load(text: text, path: path), allowModelsFile: true)
    }

    /// Compiles pipeline text, as if read from `path` (includes resolve relative to it).
    public func compile(source: String, path: String = "<input>.yaml") -> CompileResult {
        compile(loader.load(text: source, path: path), allowModelsFile: false)
    }

    /// Checks and compiles a pipeline already loaded: from a file, or a search
    /// space's template with a configuration filled in.
    package func compile(_ loaded: LoadedPipeline, allowModelsFile: Bool = false) -> CompileResult {
        var diagnostics = loaded.diagnostics
        guard loaded.hasSyntaxTree else {
            return CompileResult(compiled: nil, estimate: nil, diagnostics: diagnostics.sortedForDisplay(), sources: loaded.sources)
        }
        let (checked, checkDiagnostics) = PipelineChecker.check(loaded, allowModelsFile: allowModelsFile)
        diagnostics += checkDiagnostics
        var compiled: CompiledPipeline?
        if let checked {
            let graph = GraphBuilder.build(checked)
            let cost = CostSummary(graph: graph, pipeline: checked)
            diagnostics += BudgetCheck.check(cost, against: checked)
            compiled = CompiledPipeline(pipeline: checked, graph: graph, cost: cost)
        }
        diagnostics = diagnostics.sortedForDisplay()
        return CompileResult(
            compiled: diagnostics.containsErrors ? nil : compiled, estimate: compiled,
            diagnostics: diagnostics, sources: loaded.sources)
    }
}
