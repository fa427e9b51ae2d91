import ArgumentParser
import Foundation
import StrataStudio

struct StudioCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "studio",
        abstract: "Look at studies, evaluation runs and single queries in the browser.",
        discussion: """
            A local web app over the study store a search writes and the run store an eval writes, opened \
            read-only: every study with its history, Pareto front, parallel coordinates, parameter importance \
            and trials (live while a search writes); every run with its items, each item's layers and its calls \
            in time; two runs side by side with the paired test. Every asset is served from the binary. It \
            listens on 127.0.0.1 unless told otherwise, and a non-loopback host needs keys, as `serve` does.
            """
    )

    @Option(help: "The study store's SQLite file.")
    var store = ".strata/studies.sqlite"

    @Option(help: "The run store's SQLite file.")
    var runs = ".strata/runs.sqlite"

    @Option(help: "The address to listen on (loopback unless you say otherwise).")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port = 8600

    @Option(help: "An environment variable holding the keys a browser or client must present (comma-separated).")
    var apiKeyEnv: String?

    @Flag(help: "Serve a non-loopback host without keys.")
    var insecureNoAuth = false

    func run() async throws {
        let source: StudioSource
        do {
            source = try StudioSource(
                studyStore: try given(store, default: ".strata/studies.sqlite"), runStore: try given(runs, default: ".strata/runs.sqlite"))
        } catch {
            writeError("error: \(error)")
            throw ExitCode(1)
        }
        if source.studyPath == nil, source.runPath == nil {
            writeError("error: nothing to show: no study store at \(store) and no run store at \(runs); name them with --store and --runs")
            throw ExitCode(1)
        }
        var options = StudioOptions()
        options.host = host
        options.port = port
        options.apiKeys = try ServeCommand.keys(from: apiKeyEnv)
        options.allowsNoAuth = insecureNoAuth
        let server: StudioServer
        do {
            server = try StudioServer(source: source, options: options)
        } catch {
            writeError("error: \(error)")
            throw ExitCode(1)
        }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        try await server.run { port in
            writeError("strata studio: http://\(shownHost):\(port)/ (read-only; Ctrl-C stops)")
        }
    }

    /// A store to open: a default path that does not exist is skipped; a PostgreSQL store is said to be unsupported.
    func given(_ path: String, default defaultPath: String) throws -> String? {
        if path.hasPrefix("postgres://") || path.hasPrefix("postgresql://") {
            writeError("error: \(path): the studio reads SQLite stores; a PostgreSQL store is not supported yet")
            throw ExitCode(1)
        }
        if path == defaultPath, !FileManager.default.fileExists(atPath: path) { return nil }
        return path
    }
}
