import ArgumentParser
import Foundation
import Strata
import StrataPostgres

extension CacheMode: ExpressibleByArgument {}

/// `--cache`, `--cache-path` and `--shared-cache`, shared by the commands that call models.
struct CacheOptions: ParsableArguments {
    @Option(help: "Response cache: off, read, write or readwrite.")
    var cache: CacheMode = .readwrite

    @Option(help: "The response cache's SQLite file (a postgres:// URL means --shared-cache URL, with the default file).")
    var cachePath = CacheOptions.defaultPath

    @Option(
        help: ArgumentHelp(
            "A cache level shared between machines behind the file: postgres://USER@HOST:PORT/DATABASE (password from PGPASSWORD), or off.",
            discussion: "Default: the --store database, when it is PostgreSQL. A shared level that fails or is slow is a miss, never a failed call."))
    var sharedCache: String?

    static let defaultPath = ".strata/cache.sqlite"

    /// Opens the cache; whatever it cannot do (a corrupt file, a lock held
    /// by another process, a shared level that is down) is said on standard
    /// error as it happens. `store` is the shared store's database, the
    /// default shared level; a pool opened here for the cache alone lasts as
    /// long as the process, like the file.
    func open(sharing store: PostgresStore? = nil) throws -> ResponseCache {
        let report: @Sendable (CacheProblem) -> Void = { writeError("warning: \($0)") }
        let sharedURL = PostgresLocation.isURL(cachePath) ? cachePath : sharedCache
        let path = PostgresLocation.isURL(cachePath) ? Self.defaultPath : cachePath
        var tier: (any SharedResponseTier)? = store.map { PostgresResponseTier(database: $0) }
        if let sharedURL, cache != .off {
            if sharedURL == "off" {
                tier = nil
            } else {
                let location: PostgresLocation
                do {
                    location = try PostgresLocation(url: sharedURL)
                } catch {
                    throw ValidationError("--shared-cache: \(error)")
                }
                // Another database than the store's: a pool of its own.
                if location.description != store?.location.description { tier = PostgresResponseTier(location: location) }
            }
        }
        return try ResponseCache(path: path, mode: cache, shared: tier, report: report)
    }
}
