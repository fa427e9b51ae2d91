import Foundation
import StrataDiagnostics
import StrataYAML
import Synchronization

/// A pipeline file with every file it includes, parsed and decoded.
package struct LoadedPipeline: Sendable {
    /// The pipeline itself.
    package var main: PipelineSyntax
    /// Included files, in the order their declarations apply (depth first,
    /// each include before the file that includes it).
    package var included: [PipelineSyntax]
    /// The text of every file read, for rendering diagnostics.
    package var sources: SourceMap
    package var diagnostics: [Diagnostic]
    /// False when the main file could not be read or is not valid YAML: there
    /// is nothing for later stages to check.
    package var hasSyntaxTree: Bool
}

/// Reads a pipeline and its `include:` files from disk (or the main file from
/// a string), reporting missing files and include cycles as diagnostics.
package struct SourceLoader: Sendable {
    /// Reads a file's text; replaceable so tests and embedders can serve files from memory.
    package var readFile: @Sendable (String) throws -> String
    /// Directories, besides the pipeline's own tree and the working directory,
    /// that includes may read from (the CLI's `--include-path`, and `STRATA_INCLUDE_PATH`).
    package var includeRoots: [String] = SourceLoader.environmentIncludeRoots

    /// The directories named by `STRATA_INCLUDE_PATH` (colon-separated).
    package static var environmentIncludeRoots: [String] {
        ProcessInfo.processInfo.environment["STRATA_INCLUDE_PATH"].map { $0.split(separator: ":").map(String.init) } ?? []
    }

    /// When set, each included file is read and parsed once and shared by every
    /// load through this loader (a search space's configurations, say).
    package var includeCache: IncludeCache?

    package init(
        readFile: @escaping @Sendable (String) throws -> String = SourceLoader.readTextFile,
        includeRoots: [String]? = nil, includeCache: IncludeCache? = nil
    ) {
        self.readFile = readFile
        if let includeRoots { self.includeRoots = includeRoots }
        self.includeCache = includeCache
    }

    /// Reads a regular file of UTF-8 text of at most `YAMLParser.maxBytes`, saying
    /// where the first invalid byte is (`InvalidUTF8`) when it is not text.
    @Sendable package static func readTextFile(_ path: String) throws -> String {
        var status = stat()
        if stat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFREG else { throw LoadRefusal("it is not a regular file") }
            guard Int(status.st_size) <= YAMLParser.maxBytes else {
                throw LoadRefusal("it is \(status.st_size) bytes; at most \(YAMLParser.maxBytes) are read")
            }
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard data.count <= YAMLParser.maxBytes else { throw LoadRefusal("it is \(data.count) bytes; at most \(YAMLParser.maxBytes) are read") }
        return try InvalidUTF8.decode([UInt8](data))
    }

    /// Loads the pipeline at `path`.
    package func load(path: String) -> LoadedPipeline {
        do {
            return load(text: try readFile(path), path: path)
        } catch {
            return LoadedPipeline(
                main: PipelineSyntax(file: path), included: [], sources: SourceMap(),
                diagnostics: [Self.unreadable(path, error)], hasSyntaxTree: false)
        }
    }

    /// The diagnostic for a file given on the command line that `readTextFile`
    /// refused: where its first invalid byte is, or why it was not read.
    package static func unreadable(_ path: String, _ error: Error) -> Diagnostic {
        var at = SourceRange.startOf(path)
        if let invalid = error as? InvalidUTF8 { at = SourceRange(file: path, start: invalid.location, end: invalid.location) }
        return Diagnostic(.unreadableFile, "cannot read '\(path)': \(reason(error))", at: at)
    }

    /// Loads a pipeline from `text`, as if read from `path` (includes resolve relative to it).
    package func load(text: String, path: String) -> LoadedPipeline {
        var state = State()
        let (main, hasTree) = parse(text: text, path: path, state: &state)
        state.stack = [Self.canonical(path)]
        state.roots = ([Self.treeRoot(of: state.stack[0]), FileManager.default.currentDirectoryPath] + includeRoots).map(Self.realPath)
        resolveIncludes(of: main, state: &state)
        return LoadedPipeline(
            main: main, included: state.included, sources: state.sources, diagnostics: state.diagnostics,
            hasSyntaxTree: hasTree)
    }

    /// Loads a pipeline from a YAML tree built elsewhere — a search space's
    /// template with its axes filled in — whose ranges point into `source`,
    /// so diagnostics about the pipeline show the lines that produced it.
    package func load(tree: YAMLNode, source: SourceFile) -> LoadedPipeline {
        var state = State()
        state.sources.add(source)
        let (main, diagnostics) = PipelineDecoder.decode(tree, file: source.path)
        state.diagnostics += diagnostics
        state.stack = [Self.canonical(source.path)]
        state.roots = ([Self.treeRoot(of: state.stack[0]), FileManager.default.currentDirectoryPath] + includeRoots).map(Self.realPath)
        resolveIncludes(of: main, state: &state)
        return LoadedPipeline(
            main: main, included: state.included, sources: state.sources, diagnostics: state.diagnostics,
            hasSyntaxTree: true)
    }

    fileprivate struct State {
        var sources = SourceMap()
        var diagnostics: [Diagnostic] = []
        var included: [PipelineSyntax] = []
        var loaded: Set<String> = []
        var stack: [String] = []
        /// The directories includes may read from.
        var roots: [String] = []
        /// Include entries seen so far, and whether the limit was reported.
        var includeEntries = 0
        var overIncludeLimit = false
    }

    /// Parses one file. An included file that is not valid YAML is never quoted
    /// (its text stays out of the source map): it may be a file that was never
    /// meant to be shown, and its first bad line is all a diagnostic would print.
    private func parse(text: String, path: String, state: inout State, quoteOnSyntaxError: Bool = true) -> (PipelineSyntax, hasTree: Bool) {
        Self.parse(text: text, path: path, quoteOnSyntaxError: quoteOnSyntaxError).apply(to: &state)
    }

    fileprivate static func parse(text: String, path: String, quoteOnSyntaxError: Bool) -> ParsedFile {
        let yaml = YAMLParser.parse(text, file: path)
        // A file that is not valid YAML has no tree; decoding it would only add noise.
        if yaml.root == nil, yaml.diagnostics.containsErrors {
            return ParsedFile(
                syntax: PipelineSyntax(file: path), hasTree: false, diagnostics: yaml.diagnostics,
                source: quoteOnSyntaxError ? SourceFile(path: path, text: text) : nil)
        }
        let (syntax, diagnostics) = PipelineDecoder.decode(yaml.root, file: path)
        return ParsedFile(syntax: syntax, hasTree: true, diagnostics: yaml.diagnostics + diagnostics, source: SourceFile(path: path, text: text))
    }

    /// An included file read and parsed, or why it could not be read.
    private func parsedInclude(_ path: String) -> Result<ParsedFile, ReadFailure> {
        if let cached = includeCache?.parsed(path) { return cached }
        let result: Result<ParsedFile, ReadFailure>
        do {
            result = .success(Self.parse(text: try readFile(path), path: path, quoteOnSyntaxError: false))
        } catch {
            result = .failure(ReadFailure(reason: Self.reason(error)))
        }
        includeCache?.store(result, for: path)
        return result
    }

    /// Include entries read per pipeline, all files together: more is a mistake or an attack, and each costs a file read.
    package static let maxIncludes = 256

    private func resolveIncludes(of file: PipelineSyntax, state: inout State) {
        for include in file.includes {
            state.includeEntries += 1
            if state.includeEntries > Self.maxIncludes {
                if !state.overIncludeLimit {
                    state.overIncludeLimit = true
                    state.diagnostics.append(
                        Diagnostic(
                            .limitExceeded, "a pipeline may include at most \(Self.maxIncludes) files; the rest are not read", at: include.range,
                            notes: [DiagnosticNote("put shared model declarations in a few files, each included once")]))
                }
                return
            }
            let path = Self.resolve(include.value, relativeTo: file.file)
            let key = Self.canonical(path)
            if let cycleStart = state.stack.firstIndex(of: key) {
                let chain = (state.stack[cycleStart...] + [key]).map { URL(fileURLWithPath: $0).lastPathComponent }
                state.diagnostics.append(
                    Diagnostic(
                        .includeCycle, "including '\(include.value)' makes a cycle: \(chain.joined(separator: " → "))",
                        at: include.range, notes: [DiagnosticNote("a file cannot include itself, directly or through others")]))
                continue
            }
            if state.loaded.contains(key) { continue }  // a diamond: declarations apply once
            if let refusal = Self.includeRefusal(path, roots: state.roots) {
                state.diagnostics.append(
                    Diagnostic(
                        .unreadableFile, "refusing to include '\(include.value)': \(refusal)", at: include.range,
                        notes: [
                            DiagnosticNote(
                                "includes read YAML files under the pipeline's own tree (\(state.roots[0])), so a pipeline from elsewhere cannot make Strata print other files"
                            ),
                            DiagnosticNote("to allow another directory, pass '--include-path DIR' or set STRATA_INCLUDE_PATH"),
                        ]))
                continue
            }
            let parsed: ParsedFile
            switch parsedInclude(path) {
            case .success(let file):
                parsed = file
            case .failure(let failure):
                state.diagnostics.append(
                    Diagnostic(
                        .unreadableFile, "cannot read included file '\(include.value)': \(failure.reason)", at: include.range,
                        notes: [DiagnosticNote("include paths are relative to the file that includes them; this one resolved to '\(path)'")]))
                continue
            }
            state.loaded.insert(key)
            let (syntax, _) = parsed.apply(to: &state)
            for key in ["layers", "budget"] {
                if let range = syntax.topLevelKeys[key] {
                    state.diagnostics.append(
                        Diagnostic(
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

    /// The pipeline's own tree: the nearest directory above the file that holds
    /// `.git`, `Package.swift` or `.strata` (a project), else the file's own directory.
    static func treeRoot(of file: String) -> String {
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().standardizedFileURL
        var candidate = directory
        while true {
            for marker in [".git", "Package.swift", ".strata"]
            where FileManager.default.fileExists(atPath: candidate.appendingPathComponent(marker).path) {
                return candidate.path
            }
            let parent = candidate.deletingLastPathComponent()
            if parent.path == candidate.path || candidate.path == "/" { return directory.path }
            candidate = parent
        }
    }

    static func realPath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Why an include may not be read, or nil: it must be a `.yaml`/`.yml` file
    /// under one of `roots`, symbolic links followed.
    static func includeRefusal(_ path: String, roots: [String]) -> String? {
        let real = realPath(path)
        let ext = URL(fileURLWithPath: real).pathExtension.lowercased()
        guard ext == "yaml" || ext == "yml" else { return "only .yaml and .yml files can be included" }
        let inside = roots.contains { root in real == root || real.hasPrefix(root.hasSuffix("/") ? root : root + "/") }
        return inside ? nil : "'\(real)' is outside the pipeline's tree"
    }

    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    static func reason(_ error: Error) -> String {
        if let invalid = error as? InvalidUTF8 { return invalid.description }
        if let refusal = error as? LoadRefusal { return refusal.reason }
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError || nsError.code == 260 {
            return "no such file"
        }
        if nsError.code == NSFileReadInapplicableStringEncodingError { return "not UTF-8 text" }
        return nsError.localizedDescription
    }
}

/// Why a file is not read at all.
struct LoadRefusal: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// One file parsed: what the loader adds to its state each time the file is used.
struct ParsedFile: Sendable {
    var syntax: PipelineSyntax
    var hasTree: Bool
    var diagnostics: [Diagnostic]
    /// Nil for an included file that is not valid YAML: it is never quoted.
    var source: SourceFile?

    fileprivate func apply(to state: inout SourceLoader.State) -> (PipelineSyntax, hasTree: Bool) {
        state.diagnostics += diagnostics
        if let source { state.sources.add(source) }
        return (syntax, hasTree)
    }
}

struct ReadFailure: Error, Sendable {
    var reason: String
}

/// Included files read and parsed once, for a loader that loads many variants
/// of one pipeline: a search space compiles every configuration of its
/// template, and each would otherwise read and parse the same includes again.
package final class IncludeCache: Sendable {
    private let files = Mutex([String: Result<ParsedFile, ReadFailure>]())

    package init() {}

    func parsed(_ path: String) -> Result<ParsedFile, ReadFailure>? { files.withLock { $0[path] } }

    func store(_ result: Result<ParsedFile, ReadFailure>, for path: String) { files.withLock { $0[path] = result } }

    /// How many distinct files were read, for tests.
    package var count: Int { files.withLock { $0.count } }
}
