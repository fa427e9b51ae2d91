import ArgumentParser
import Foundation
import StrataPostgres
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

    @Option(help: "The study store's SQLite file, or postgres://USER@HOST:PORT/DATABASE (its studies and runs, in read-only sessions).")
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

    @Option(help: "The variable holding the PostgreSQL password (default PGPASSWORD).")
    var storePasswordEnv: String?

    func run() async throws {
        let source: StudioSource
        do {
            if PostgresLocation.isURL(store) {
                source = try await StudioSource(postgres: try PostgresLocation(url: store, passwordVariable: storePasswordEnv))
            } else {
                source = try StudioSource(
                    studyStore: try given(store, default: ".strata/studies.sqlite"), runStore: try given(runs, default: ".strata/runs.sqlite"))
            }
        } catch let exit as ExitCode {
            throw exit
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
        defer { source.close() }
        try await server.run { port in
            writeError("strata studio: http://\(shownHost):\(port)/ (read-only; Ctrl-C stops)")
        }
    }

    /// A store file to open: a default path that does not exist is skipped.
    func given(_ path: String, default defaultPath: String) throws -> String? {
        if PostgresLocation.isURL(path) {
            writeError("error: --runs: a PostgreSQL store holds the runs too; give it as --store")
            throw ExitCode(1)
        }
        if path == defaultPath, !FileManager.default.fileExists(atPath: path) { return nil }
        return path
    }
}
