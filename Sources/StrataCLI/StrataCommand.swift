import ArgumentParser
import Foundation
import Strata

/// `strata`: a thin shell over the Strata library.
struct StrataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Compile YAML descriptions of LLM systems into checked, concurrent programs.",
        version: StrataVersion.current,
        subcommands: [
            CheckCommand.self, CompileCommand.self, RunCommand.self, EvalCommand.self, SearchCommand.self, ServeCommand.self, StudioCommand.self,
            ImportCommand.self,
        ]
    )
}

enum DiagnosticFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Prints diagnostics: text (with source snippets) to standard error, or JSON to standard output.
func printDiagnostics(_ diagnostics: [Diagnostic], sources: SourceMap, format: DiagnosticFormat, toStandardError: Bool = false) {
    switch format {
    case .json:
        let json = DiagnosticRenderer.json(diagnostics)
        if toStandardError {
            FileHandle.standardError.write(Data(json.utf8))
        } else {
            print(json, terminator: "")
        }
    case .text:
        let renderer = DiagnosticRenderer(sources: sources, colored: DiagnosticRenderer.shouldColorStandardError())
        FileHandle.standardError.write(Data(renderer.render(diagnostics).utf8))
    }
}

func writeError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

func summary(of diagnostics: [Diagnostic]) -> String {
    let errors = diagnostics.filter { $0.severity == .error }.count
    let warnings = diagnostics.filter { $0.severity == .warning }.count
    func plural(_ count: Int, _ word: String) -> String { "\(count) \(word)\(count == 1 ? "" : "s")" }
    return "\(plural(errors, "error")), \(plural(warnings, "warning"))"
}

@main
enum Main {
    /// Runs the command with the exit codes the CLI promises: 0 success, 1 when
    /// a pipeline has errors, 2 on usage errors.
    static func main() async {
        do {
            var command = try StrataCommand.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            StrataCommand.exit(withError: exit)
        } catch {
            if StrataCommand.exitCode(for: error) == .success {
                StrataCommand.exit(withError: error)  // --help, --version
            }
            writeError(StrataCommand.fullMessage(for: error))
            Foundation.exit(2)
        }
    }
}

/// `--include-path`, shared by every command that reads pipelines.
struct IncludeOptions: ParsableArguments {
    @Option(
        name: .customLong("include-path"),
        help: ArgumentHelp(
            "A directory that includes may read from besides the pipeline's own tree (repeatable; also STRATA_INCLUDE_PATH).",
            valueName: "dir"))
    var includePaths: [String] = []

    var loader: SourceLoader { SourceLoader(includeRoots: SourceLoader.environmentIncludeRoots + includePaths) }
    var compiler: PipelineCompiler { PipelineCompiler(loader: loader) }
}
