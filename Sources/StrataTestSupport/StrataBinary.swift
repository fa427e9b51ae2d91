import Foundation

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
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? packageRoot
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NO_COLOR")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let waitForExit = try process.runWithExitWait()
        // Read both pipes before waiting, so a large output cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        waitForExit()
        return Outcome(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Starts the binary in the background, for tests that signal or race it;
    /// standard error goes to `log` when given, else nowhere.
    package static func start(_ arguments: [String], in directory: URL, log: URL? = nil) throws -> Process {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        if let log {
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        return process
    }
}
