import ArgumentParser
import Foundation
import Strata

struct CompileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile a pipeline into its execution graph for one query.",
        discussion: """
            --emit json: the graph and cost for tools; dot: Graphviz; mermaid: a flowchart for Markdown; \
            cost: the worst-case calls, tokens, USD and latency of one query, per layer.
            """
    )

    @Argument(help: "The pipeline file.")
    var file: String

    @Option(help: "What to write: \(EmitFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var emit: EmitFormat = .cost

    @Option(name: [.short, .customLong("output")], help: "Write to this file instead of standard output.")
    var output: String?

    @Option(help: "How to print diagnostics: text or json.")
    var format: DiagnosticFormat = .text

    @OptionGroup var includes: IncludeOptions

    func run() async throws {
        let result = includes.compiler.compileFile(path: file)
        // Standard output carries the emitted graph, so diagnostics go to standard error in both formats.
        printDiagnostics(result.diagnostics, sources: result.sources, format: format, toStandardError: true)
        guard let compiled = result.compiled else {
            if emit == .cost, let estimate = result.estimate {
                // Show what a query would cost even when it is over budget: that is what the user must fix.
                try write(estimate.render(.cost))
            }
            if format == .text {
                let reason = result.hasErrors ? summary(of: result.diagnostics) : "it declares no layers"
                writeError("\(file): not compiled (\(reason))")
            }
            throw ExitCode(1)
        }
        try write(compiled.render(emit))
    }

    private func write(_ text: String) throws {
        if let output {
            try OutputFile.write(text, to: output)
        } else {
            print(text, terminator: "")
        }
    }
}

extension EmitFormat: ExpressibleByArgument {}

extension CheckCommand {
    /// Which key variable goes to which host, so a pipeline from elsewhere
    /// cannot send a secret anywhere without it showing here.
    static func keyRoutes(_ pipeline: CheckedPipeline) -> [String] {
        var hosts: [String: [String: [String]]] = [:]
        for model in pipeline.models {
            let host = KeyDestination.host(of: model.baseURL) ?? model.baseURL
            for variable in model.apiKeyEnv { hosts[variable, default: [:]][host, default: []].append(model.name) }
        }
        return hosts.keys.sorted().flatMap { variable in
            hosts[variable]!.keys.sorted().map { host in "key \(variable) → \(host) (\(hosts[variable]![host]!.joined(separator: ", ")))" }
        }
    }
}
