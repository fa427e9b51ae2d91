import Foundation
import GRDB

/// How every Strata store opens its SQLite file: the folder created if
/// missing, WAL through a pool, and a busy timeout so a second process (a
/// resumed run, a report reader) waits instead of failing.
package enum SQLiteFile {
    package static func openPool(at path: String, busyTimeout: TimeInterval = 30) throws -> DatabasePool {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        // Two processes creating the same file at once: switching it to WAL fails in the one that
        // loses the race while the other holds the lock; a moment later it succeeds.
        var attempt = 0
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError where (error.message ?? "").contains("could not activate WAL") && attempt < 20 {
                attempt += 1
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
            }
        }
    }
}
