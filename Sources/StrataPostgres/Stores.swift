import Foundation
import StrataEval
import StrataSearch

/// Where `strata eval` and `strata search` keep their runs and studies:
/// SQLite files on this machine, or one PostgreSQL database that workers on
/// many machines share.
package enum StoreLocation: Sendable, CustomStringConvertible {
    /// The run store's file, and the study store's when a search needs one.
    case files(runs: String, studies: String?)
    case postgres(PostgresLocation)

    /// An evaluation's store: a `postgres://` URL (the password from `passwordVariable`, default
    /// `PGPASSWORD`, never from the URL), or the run store's file.
    package init(runStore text: String, passwordVariable: String? = nil) throws {
        self = PostgresLocation.isURL(text) ? .postgres(try PostgresLocation(url: text, passwordVariable: passwordVariable)) : .files(runs: text, studies: nil)
    }

    /// A search's store: a `postgres://` URL for both, or the study store's file and `runStore` beside it.
    package init(studyStore text: String, runStore: String, passwordVariable: String? = nil) throws {
        self =
            PostgresLocation.isURL(text)
            ? .postgres(try PostgresLocation(url: text, passwordVariable: passwordVariable)) : .files(runs: runStore, studies: text)
    }

    package var description: String {
        switch self {
        case .files(let runs, let studies): studies ?? runs
        case .postgres(let location): location.description
        }
    }
}

/// The stores a job works with, opened: per-item results, studies, and —
/// in PostgreSQL — the database the response cache shares and the queue
/// workers split an evaluation's items through.
package struct Stores: Sendable {
    package var runs: any RunResultStore
    /// The study store (nil for an evaluation's file).
    package var studies: (any StudyStore)?
    /// The PostgreSQL database, when the stores are there.
    package var database: PostgresStore?
    /// How this process works with the others on the database's runs and studies.
    package var worker: WorkerOptions

    /// Opens (creating where needed) the stores at `location`; `onOutage` hears of a database out of reach and back.
    package static func open(
        _ location: StoreLocation, worker: WorkerOptions = WorkerOptions(), onOutage: (@Sendable (String) -> Void)? = nil
    )
        async throws -> Stores
    {
        switch location {
        case .files(let runs, let studies):
            return Stores(runs: try RunStore(path: runs), studies: try studies.map { try SQLiteStudyStore(path: $0) }, database: nil, worker: worker)
        case .postgres(let location):
            let database = try await PostgresStore.open(location, onOutage: onOutage)
            return Stores(
                runs: PostgresRunStore(database: database, writer: worker.id), studies: PostgresStudyStore(database: database),
                database: database, worker: worker)
        }
    }

    /// The queue that splits an evaluation's items among workers, with this worker's options; nil for files.
    package var sharedItems: (queue: any SharedItemQueue, worker: WorkerOptions)? {
        database.map { (PostgresItemQueue(database: $0), worker) }
    }

    /// The study store every worker shares, for `--status`; nil for files.
    package var sharedStudies: PostgresStudyStore? { database.map { PostgresStudyStore(database: $0) } }

    /// Closes the database's connections (files need nothing).
    package func close() { database?.close() }
}
