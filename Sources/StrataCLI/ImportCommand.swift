import ArgumentParser
import Foundation
import Strata

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bring pipelines written for other tools over, checked.",
        subcommands: [ArchonImportCommand.self]
    )
}

struct ArchonImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archon",
        abstract: "Import an Archon JSON configuration as a Strata pipeline.",
        discussion: """
            Writes a pipeline with the configuration's structure and sampling (models, samples, temperatures, \
            max_tokens, top_k, first_k), a header naming the source and its sha256, and a comment per layer with \
            its JSON path. What Archon does that Strata cannot is an error at its JSON path; where the semantics \
            differ, a warning. The pipeline is then checked like any other (above all: does every prompt fit \
            its model's context window?), and the checker's findings are reported at the Archon component they \
            come from. `strata check`, `compile`, `run` and `serve` also take an Archon .json file directly.
            """
    )

    @Argument(help: "The Archon configuration (JSON).")
    var config: String

    @Option(name: [.short, .customLong("output")], help: "Write the pipeline here (also when it has errors) instead of standard output.")
    var output: String?

    @Option(help: "Key variables per provider: NAME, NAME_2, … NAME_N (Archon's numbered keys).")
    var keyRotation = 1

    @Option(help: "Send every model's requests to this OpenAI-compatible server instead (e.g. the local model).")
    var baseURL: String?

    @Option(help: "How to print diagnostics: text or json.")
    var format: DiagnosticFormat = .text

    func validate() throws {
        if keyRotation < 1 { throw ValidationError("--key-rotation must be at least 1") }
    }

    func run() async throws {
        let options = ArchonImportOptions(keyRotation: keyRotation, baseURL: baseURL)
        let imported = ArchonImporter.importFile(path: config, options: options)
        printDiagnostics(imported.diagnostics, sources: imported.sources, format: format, toStandardError: true)
        if let yaml = imported.yaml {
            if let output {
                try OutputFile.write(yaml, to: output)
            } else if !imported.hasErrors {
                print(yaml, terminator: "")
            }
        }
        if imported.hasErrors {
            writeError(
                "\(config): \(summary(of: imported.diagnostics))"
                    + (imported.yaml != nil && output != nil ? "; the pipeline was written to \(output!) anyway" : ""))
            throw ExitCode(1)
        }
    }
}
