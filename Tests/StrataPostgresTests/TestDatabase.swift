import Foundation
import PostgresNIO
import Strata
import StrataPostgres
import StrataTestSupport
import Testing

/// The throwaway cluster `scripts/test` starts (`scripts/test-postgres`), and
/// a fresh database in it per test, so tests never see each other's studies.
enum TestPostgres {
    static let url = ProcessInfo.processInfo.environment["STRATA_TEST_POSTGRES_URL"]
    static var isUp: Bool { url != nil }

    /// A new, empty database; its URL.
    static func freshDatabase() async throws -> String {
        let admin = try #require(url)
        let location = try PostgresLocation(url: admin)
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: nil, database: location.database, tls: .disable)
        configuration.options.maximumConnections = 1
        let client = PostgresClient(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
            group.cancelAll()
        }
        return "postgres://\(location.user)@\(location.host):\(location.port)/\(name)?sslmode=disable"
    }

    static func open(_ url: String) async throws -> PostgresStore {
        try await PostgresStore.open(try PostgresLocation(url: url))
    }
}

/// CI must not skip the PostgreSQL tests by accident.
@Suite struct PostgresSentinelTests {
    @Test func ciRunsThePostgresTests() {
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            #expect(TestPostgres.isUp, "CI=true but STRATA_TEST_POSTGRES_URL is not set: scripts/test starts the cluster")
        }
    }

    @Test func theURLCarriesNoSecrets() throws {
        let location = try PostgresLocation(url: "postgres://ana@db.example:6543/studies?sslmode=require", environment: ["PGPASSWORD": "hunter2"])
        #expect(location.description == "postgres://ana@db.example:6543/studies")
        #expect(location.port == 6543)
        #expect(location.database == "studies")
        #expect(location.tls == .require)
        #expect(!"\(location)".contains("hunter2"))
        // A password in the URL would show in `ps` and in logs: refused, and not repeated in the error.
        do {
            _ = try PostgresLocation(url: "postgres://ana:hunter2@db.example/studies", environment: [:])
            Issue.record("a URL with a password was accepted")
        } catch {
            #expect("\(error)".contains("PGPASSWORD"))
            #expect(!"\(error)".contains("hunter2"))
        }
        #expect(throws: PostgresStoreError.self) { try PostgresLocation(url: "postgres://ana@db/x?sslmode=sometimes", environment: [:]) }
        #expect(throws: PostgresStoreError.self) { try PostgresLocation(url: "postgres://ana@db/x", passwordVariable: "NOPE", environment: [:]) }
    }
}
