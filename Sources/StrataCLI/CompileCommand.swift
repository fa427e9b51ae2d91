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

    @Option(
        name: .customLong("from-run"),
        help: "A run store (SQLite) holding evals of this pipeline: --emit cost adds the calls a query made there on average.")
    var fromRun: String?

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
        try write(compiled.render(emit) + (emit == .cost ? try expectedCost(compiled, sources: result.sources) : ""))
    }

    /// Low, expected and worst calls per query for a pipeline that can spend
    /// less than its worst case: the expectation observed in earlier evals (`--from-run`).
    private func expectedCost(_ compiled: CompiledPipeline, sources: SourceMap) throws -> String {
        let fewest = compiled.graph.fewestCalls, worst = compiled.graph.worstCaseCallNodes
        guard fewest < worst else { return "" }
        var line = "Calls per query: low \(fewest), worst \(worst)"
        if let fromRun {
            let identity = PipelineIdentity.of(sources, main: file)
            if let observed = try RunStore(path: fromRun).observedCalls(pipelineHash: identity) {
                line += String(format: ", expected %.2f (observed on %d items of earlier evals in %@)", observed.callsPerItem, observed.items, fromRun)
            } else {
                line += "; \(fromRun) holds no eval of this pipeline (as written now) to take an expectation from"
            }
        } else {
            line += "; the expectation comes from an eval of it: --from-run RUNSTORE"
        }
        return line + ".\n"
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
