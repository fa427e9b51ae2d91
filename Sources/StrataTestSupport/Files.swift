import Foundation
import Synchronization

/// The package's root directory (where `Package.swift` is), for tests that
/// read `Pipelines/`, fixtures or the README.
package let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A new empty directory under the system's temporary directory, removed when
/// the test process exits (tests leave nothing behind in `/tmp`).
package func temporaryDirectory(_ prefix: String = "strata-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    TemporaryFiles.shared.add(url)
    return url
}

/// A path named `name` in a new temporary directory (the file is not created).
package func temporaryPath(_ name: String) -> String {
    let directory = (try? temporaryDirectory()) ?? FileManager.default.temporaryDirectory
    return directory.appendingPathComponent(name).path
}

/// The temporary directories of this process, removed at exit.
final class TemporaryFiles: Sendable {
    static let shared = TemporaryFiles()
    private let directories = LockedList<URL>()

    private init() {
        atexit {
            for url in TemporaryFiles.shared.directories.all { try? FileManager.default.removeItem(at: url) }
        }
    }

    func add(_ url: URL) { directories.append(url) }
}

/// A list many threads append to.
final class LockedList<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var all: [Element] { items.withLock { $0 } }
}

/// Runs blocking work (waiting for a process, compiling thousands of
/// configurations) on a Dispatch worker, so it never starves Swift's
/// cooperative pool, where other suites' timing-sensitive tests wait.
package func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

/// `offPool` for work that cannot fail.
package func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}
