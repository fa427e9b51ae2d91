import Foundation
import StrataDiagnostics
import StrataYAML

/// A pipeline file with every file it includes, parsed and decoded.
public struct LoadedPipeline: Sendable {
    /// The pipeline itself.
    public var main: PipelineSyntax
    /// Included files, in the order their declarations apply (depth first,
    /// each include before the file that includes it).
    public var included: [PipelineSyntax]
    /// The text of every file read, for rendering diagnostics.
    public var sources: SourceMap
    public var diagnostics: [Diagnostic]
    /// False when the main file could not be read or is not valid YAML: there
    /// is nothing for later stages to check.
    public var hasSyntaxTree: Bool
}

/// Reads a pipeline and its `include:` files from disk (or the main file from
/// a string), reporting missing files and include cycles as diagnostics.
public struct SourceLoader: Sendable {
    /// Reads a file's text; replaceable so tests and embedders can serve files from memory.
    public var readFile: @Sendable (String) throws -> String

    public init(readFile: @escaping @Sendable (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }) {
        self.readFile = readFile
    }

    /// Loads the pipeline at `path`.
    public func load(path: String) -> LoadedPipeline {
        do {
            return load(text: try readFile(path), path: path)
        } catch {
            return LoadedPipeline(
                main: PipelineSyntax(file: path), included: [], sources: SourceMap(),
                diagnostics: [Diagnostic(.unreadableFile, "cannot read '\(path)': \(Self.reason(error))", at: .startOf(path))],
                hasSyntaxTree: false)
        }
    }

    /// Loads a pipeline from `text`, as if read from `path` (includes resolve relative to it).
    public func load(text: String, path: String) -> LoadedPipeline {
        var state = State()
        let (main, hasTree) = parse(text: text, path: path, state: &state)
        state.stack = [Self.canonical(path)]
        resolveIncludes(of: main, state: &state)
        return LoadedPipeline(main: main, included: state.included, sources: state.sources, diagnostics: state.diagnostics,
                              hasSyntaxTree: hasTree)
    }

    /// Loads a pipeline from a YAML tree built elsewhere — a search space's
    /// template with its axes filled in — whose ranges point into `source`,
    /// so diagnostics about the pipeline show the lines that produced it.
    public func load(tree: YAMLNode, source: SourceFile) -> LoadedPipeline {
        var state = State()
        state.sources.add(source)
        let (main, diagnostics) = PipelineDecoder.decode(tree, file: source.path)
        state.diagnostics += diagnostics
        state.stack = [Self.canonical(source.path)]
        resolveIncludes(of: main, state: &state)
        return LoadedPipeline(main: main, included: state.included, sources: state.sources, diagnostics: state.diagnostics,
                              hasSyntaxTree: true)
    }

    private struct State {
        var sources = SourceMap()
        var diagnostics: [Diagnostic] = []
        var included: [PipelineSyntax] = []
        var loaded: Set<String> = []
        var stack: [String] = []
    }

    private func parse(text: String, path: String, state: inout State) -> (PipelineSyntax, hasTree: Bool) {
        state.sources.add(SourceFile(path: path, text: text))
        let yaml = YAMLParser.parse(text, file: path)
        state.diagnostics += yaml.diagnostics
        // A file that is not valid YAML has no tree; decoding it would only add noise.
        if yaml.root == nil, yaml.diagnostics.containsErrors { return (PipelineSyntax(file: path), false) }
        let (syntax, diagnostics) = PipelineDecoder.decode(yaml.root, file: path)
        state.diagnostics += diagnostics
        return (syntax, true)
    }

    private func resolveIncludes(of file: PipelineSyntax, state: inout State) {
        for include in file.includes {
            let path = Self.resolve(include.value, relativeTo: file.file)
            let key = Self.canonical(path)
            if let cycleStart = state.stack.firstIndex(of: key) {
                let chain = (state.stack[cycleStart...] + [key]).map { URL(fileURLWithPath: $0).lastPathComponent }
                state.diagnostics.append(Diagnostic(
                    .includeCycle, "including '\(include.value)' makes a cycle: \(chain.joined(separator: " → "))",
                    at: include.range, notes: [DiagnosticNote("a file cannot include itself, directly or through others")]))
                continue
            }
            if state.loaded.contains(key) { continue }  // a diamond: declarations apply once
            let text: String
            do {
                text = try readFile(path)
            } catch {
                state.diagnostics.append(Diagnostic(
                    .unreadableFile, "cannot read included file '\(include.value)': \(Self.reason(error))", at: include.range,
                    notes: [DiagnosticNote("include paths are relative to the file that includes them; this one resolved to '\(path)'")]))
                continue
            }
            state.loaded.insert(key)
            let (syntax, _) = parse(text: text, path: path, state: &state)
            for key in ["layers", "budget"] {
                if let range = syntax.topLevelKeys[key] {
                    state.diagnostics.append(Diagnostic(
                        .includedFileContent, "an included file may only declare models and defaults, not '\(key)'", at: range,
                        notes: [DiagnosticNote("it is included here", at: include.range)]))
                }
            }
            state.stack.append(key)
            resolveIncludes(of: syntax, state: &state)
            state.stack.removeLast()
            state.included.append(syntax)
        }
    }

    package static func resolve(_ include: String, relativeTo file: String) -> String {
        if include.hasPrefix("/") { return include }
        let directory = (file as NSString).deletingLastPathComponent
        return directory.isEmpty ? include : (directory as NSString).appendingPathComponent(include)
    }

    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    static func reason(_ error: Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError || nsError.code == 260 {
            return "no such file"
        }
        if nsError.code == NSFileReadInapplicableStringEncodingError { return "not UTF-8 text" }
        return nsError.localizedDescription
    }
}
