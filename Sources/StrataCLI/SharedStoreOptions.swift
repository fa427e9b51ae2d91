import ArgumentParser
import Foundation
import Strata
import StrataPostgres

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

    /// Opens the stores `location` names, or says what is wrong with `--store`.
    func open(_ location: () throws -> StoreLocation) async throws -> Stores {
        let where_: StoreLocation
        do {
            where_ = try location()
        } catch {
            throw ValidationError("--store: \(error)")
        }
        return try await Stores.open(where_, worker: options, onOutage: { writeError("strata: \($0)") })
    }
}
