import Foundation
import StrataCache
import StrataCompiler
import StrataDiagnostics
import StrataYAML

/// What importing an Archon configuration gave: the Strata pipeline (its YAML
/// and, when it checks, the compiled pipeline), and every diagnostic —
/// the importer's and the checker's — at the JSON file's positions.
public struct ArchonImport: Sendable {
    /// The pipeline's YAML; nil when the configuration was refused before a pipeline existed.
    public var yaml: String?
    /// The compiled pipeline, when nothing is an error.
    public var compiled: CompiledPipeline?
    /// Every problem the translation found.
    public var diagnostics: [Diagnostic]
    /// The JSON file and the generated YAML (under `yamlPath`), for rendering diagnostics.
    public var sources: SourceMap
    /// Where the pipeline was written.
    public var yamlPath: String

    /// Whether any diagnostic is an error.
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Imports Archon's JSON configurations as checked Strata pipelines.
///
/// ```swift
/// let imported = ArchonImporter.importFile(path: "archon-config.json")
/// print(DiagnosticRenderer(sources: imported.sources).render(imported.diagnostics))
/// if let yaml = imported.yaml { try yaml.write(toFile: "pipeline.yaml", atomically: true, encoding: .utf8) }
/// ```
public enum ArchonImporter {
    /// Imports the configuration at `path`.
    public static func importFile(path: String, options: ArchonImportOptions = ArchonImportOptions()) -> ArchonImport {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let diagnostic = Diagnostic(.unreadableFile, "cannot read \(path): \(error.localizedDescription)", at: .startOf(path))
            return ArchonImport(yaml: nil, compiled: nil, diagnostics: [diagnostic], sources: SourceMap(), yamlPath: path + ".yaml")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            let diagnostic = Diagnostic(.archonInvalidJSON, "\(path) is not UTF-8 text, so not JSON", at: .startOf(path))
            return ArchonImport(yaml: nil, compiled: nil, diagnostics: [diagnostic], sources: SourceMap(), yamlPath: path + ".yaml")
        }
        return importText(text, path: path, options: options)
    }

    /// Imports configuration text, as if read from `path`.
    public static func importText(_ text: String, path: String, options: ArchonImportOptions = ArchonImportOptions()) -> ArchonImport {
        var sources = SourceMap()
        sources.add(SourceFile(path: path, text: text))
        let yamlPath = path + ".strata.yaml"
        var result = ArchonImport(yaml: nil, compiled: nil, diagnostics: [], sources: sources, yamlPath: yamlPath)
        let parsed = YAMLParser.parse(text, file: path)
        let syntaxErrors = parsed.diagnostics.filter { $0.severity == .error }
        guard syntaxErrors.isEmpty, let root = parsed.root else {
            // JSON is read by the YAML front end: its syntax errors are the JSON's.
            result.diagnostics = syntaxErrors.map {
                Diagnostic(.archonInvalidJSON, "not valid JSON: \($0.message)", at: $0.range, notes: $0.notes, fixIts: $0.fixIts)
            }
            if result.diagnostics.isEmpty {
                result.diagnostics = [Diagnostic(.archonInvalidJSON, "the file is empty: an Archon configuration is a JSON object", at: .startOf(path))]
            }
            return result
        }
        var reader = ArchonReader()
        let config = reader.read(root)
        result.diagnostics = reader.diagnostics
        let fileName = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        var translator = ArchonTranslator(options: options, fileName: fileName)
        let pipeline = config.flatMap { translator.translate($0) }
        result.diagnostics += translator.diagnostics
        guard let pipeline, !result.hasErrors else {
            result.diagnostics = result.diagnostics.sortedForDisplay()
            return result
        }
        var writer = PipelineWriter(options: options)
        let hash = ContentHash.sha256(text)
        let yaml = writer.write(pipeline, source: URL(fileURLWithPath: path).lastPathComponent, sha256: hash)
        result.yaml = yaml
        result.sources.add(SourceFile(path: yamlPath, text: yaml))
        let compiled = PipelineCompiler().compile(source: yaml, path: yamlPath)
        result.diagnostics += compiled.diagnostics.map { mapped($0, origins: writer.origins, entries: writer.entries) }
        result.diagnostics = result.diagnostics.sortedForDisplay()
        if !result.hasErrors { result.compiled = compiled.compiled }
        return result
    }

    /// A checker finding on the generated YAML, reported at the Archon construct
    /// that line came from (the nearest line above with one), naming its JSON
    /// path: within a layer of several components, the one whose model the finding names.
    static func mapped(
        _ diagnostic: Diagnostic, origins: [Int: ArchonOrigin], entries: [String: [(model: String, origin: ArchonOrigin)]]
    ) -> Diagnostic {
        var line = diagnostic.range.start.line
        while line > 0, origins[line] == nil { line -= 1 }
        guard var origin = origins[line] else { return diagnostic }
        if let layerEntries = entries[origin.path],
            let named = layerEntries.first(where: { diagnostic.message.contains("\($0.model)'s ") }) ?? (layerEntries.count == 1 ? layerEntries.first : nil)
        {
            origin = named.origin
        }
        var notes = diagnostic.notes
        notes.insert(DiagnosticNote("in the imported pipeline, here", at: diagnostic.range), at: 0)
        return Diagnostic(diagnostic.code, "\(origin.path): \(diagnostic.message)", at: origin.range, notes: notes, fixIts: [])
    }
}
