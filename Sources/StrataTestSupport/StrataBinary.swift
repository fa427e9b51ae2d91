import Foundation
import StrataSandbox

/// The real built `strata` binary, run as swift-argument-parser's tests run
/// their tools: arguments in, status and both output streams out.
package enum StrataBinary {
    /// The built `strata` next to the test bundle.
    package static var url: URL { product("strata") }

    /// A built executable of the package, next to the test bundle.
    package static func product(_ name: String) -> URL {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        return packageRoot.appendingPathComponent(".build/debug/\(name)")
    }

    package struct Outcome: Sendable {
        package var status: Int32
        package var stdout: String
        package var stderr: String
    }

    /// Runs the binary on a Dispatch worker, so waiting for it never blocks Swift's cooperative pool.
    package static func run(
        _ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil,
        executable: URL = url
    ) async throws -> Outcome {
        try await offPool { try runBlocking(arguments, environment: environment, in: directory, executable: executable) }
    }

    /// Runs the binary and waits for it, in the package root unless told otherwise.
    package static func runBlocking(
        _ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil,
        executable: URL = url
    ) throws -> Outcome {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NO_COLOR")
        for (key, value) in environment { env[key] = value }
        let out = Pipe(), err = Pipe()
        let process = ChildProcess(
            executable, arguments: arguments, environment: env, directory: directory ?? packageRoot, output: .pipe(out),
            error: .pipe(err))
        try process.run()
        // Read both pipes before waiting, so a large output cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Starts the binary in the background, for tests that signal or race it;
    /// standard error goes to `log` when given, else nowhere.
    package static func start(_ arguments: [String], in directory: URL, log: URL? = nil) throws -> ChildProcess {
        var error = ChildProcess.Stream.null
        if let log {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            error = try .handle(FileHandle(forWritingTo: log))
        }
        let process = ChildProcess(url, arguments: arguments, directory: directory, output: .null, error: error)
        try process.run()
        return process
    }
}
