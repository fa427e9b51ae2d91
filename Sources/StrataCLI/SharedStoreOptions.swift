import ArgumentParser
import Foundation
import Strata
import StrataPostgres

/// The study and run stores in one PostgreSQL database, and this worker's options.
struct SharedStores {
    let database: PostgresStore
    let studies: PostgresStudyStore
    let runs: PostgresRunStore
    let worker: WorkerOptions
}

/// How `search` and `eval` work with other processes through a PostgreSQL store.
struct SharedStoreOptions: ParsableArguments {
    @Option(help: "The variable holding the PostgreSQL password (default PGPASSWORD).")
    var storePasswordEnv: String?

    @Option(help: "This worker's name in leases and --status (default HOST-PID-XXXX).")
    var workerID: String?

    @Option(
        help: ArgumentHelp(
            "With a PostgreSQL store: items per leased unit of work.",
            discussion:
                "eval splits a run into ranges of this many items (default 8); search splits each trial larger than this (default: a trial is one unit)."
        ))
    var unitItems: Int?

    @Option(help: .hidden) var leaseTtl = 60.0
    @Option(help: .hidden) var heartbeat = 10.0
    @Option(help: .hidden) var poll = 1.0

    var options: WorkerOptions {
        WorkerOptions(id: workerID ?? WorkerOptions.defaultID(), leaseTTL: leaseTtl, heartbeat: heartbeat, poll: poll, unitItems: unitItems)
    }

    func validate() throws {
        if let unitItems, unitItems < 1 { throw ValidationError("--unit-items must be at least 1") }
    }

    /// The stores in the database `store` names; nil when `store` is a file.
    func open(store: String) async throws -> SharedStores? {
        guard PostgresLocation.isURL(store) else { return nil }
        let location: PostgresLocation
        do {
            location = try PostgresLocation(url: store, passwordVariable: storePasswordEnv)
        } catch {
            throw ValidationError("--store: \(error)")
        }
        let worker = options
        let database = try await PostgresStore.open(location, onOutage: { writeError("strata: \($0)") })
        return SharedStores(
            database: database, studies: PostgresStudyStore(database: database), runs: PostgresRunStore(database: database, writer: worker.id),
            worker: worker)
    }
}
