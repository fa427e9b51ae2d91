import ArgumentParser
import Foundation
import Strata

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check pipeline files and report every problem, before any model call is spent.",
        discussion: "Exits 0 when no file has errors, 1 when one does, 2 on usage errors."
    )

    @Argument(help: "Pipeline files to check.")
    var files: [String]

    @Option(help: "How to print diagnostics: text (to standard error) or json (to standard output).")
    var format: DiagnosticFormat = .text

    @OptionGroup var includes: IncludeOptions

    func run() async throws {
        let compiler = includes.compiler
        var all: [Diagnostic] = []
        var sources = SourceMap()
        var failed = false
        for file in files {
            let result = compiler.check(path: file)
            all += result.diagnostics
            for diagnostic in result.diagnostics {
                for path in Set([diagnostic.range.file] + diagnostic.notes.compactMap(\.range?.file)) {
                    if let source = result.sources[path] { sources.add(source) }
                }
            }
            failed = failed || result.hasErrors
            if format == .text {
                printDiagnostics(result.diagnostics, sources: result.sources, format: .text)
                let status = result.hasErrors ? "failed" : "ok"
                writeError("\(file): \(status) (\(summary(of: result.diagnostics)))")
                if let pipeline = (result.compiled ?? result.estimate)?.pipeline {
                    for route in Self.keyRoutes(pipeline) { writeError("  \(route)") }
                }
            }
        }
        if format == .json { printDiagnostics(all, sources: sources, format: .json) }
        if failed { throw ExitCode(1) }
    }
}
