import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import Strata
import StrataSearch
import StrataStudio
import StrataTestSupport
import Testing

/// The studio's server over real sockets: what it refuses, that it writes
/// nothing, its keys, and the numbers its API computes.
@Suite struct StudioServerTests {
    /// A study store with `count` trials of a two-axis space: `samples` decides the objective, `seed` is noise.
    static func studyStore(trials count: Int, in directory: URL) async throws -> (path: String, study: String) {
        let path = directory.appendingPathComponent("studies.sqlite").path
        let store = try SQLiteStudyStore(path: path)
        let study = StudyDescriptor(id: "s1", name: "made", spacePath: "space.yaml", settings: "{}")
        try await store.open(study)
        for number in 0..<count {
            let samples = number % 4 + 1, seed = number % 3
            let objective = Double(samples) / 4
            try await store.record(
                TrialRecord(
                    number: number, configuration: Configuration(["samples": .int(samples), "seed": .int(seed)]), phase: .dev, fidelity: 10,
                    status: .complete, outcome: TrialOutcome(score: objective, items: 10, itemScores: ["q10": 1, "q2": 0, "q1": 1]), error: nil,
                    objective: objective, staticCalls: samples + 1, staticUSD: 0),
                study: study.id)
        }
        return (path, study.id)
    }

    /// Runs a studio on a free loopback port for the duration of `body`.
    static func withStudio<T: Sendable>(
        _ source: StudioSource, keys: [String] = [], _ body: @Sendable (String) async throws -> T
    ) async throws -> T {
        var options = StudioOptions()
        options.port = 0
        options.apiKeys = keys
        let server = try StudioServer(source: source, options: options)
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let running = Task { try await server.run { sink.yield($0) } }
        defer { running.cancel() }
        guard let port = await ports.first(where: { _ in true }) else { throw CancellationError() }
        return try await body("http://127.0.0.1:\(port)")
    }

    /// A client that shows a redirect instead of following it (the key's 303 is what is tested).
    static let noRedirects = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    static func get(_ url: String, headers: [(String, String)] = []) async throws -> (status: Int, headers: [String: String], body: String) {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await noRedirects.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 24)
        let fields = Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        return (Int(response.status.code), fields, String(buffer: body))
    }

    @Test func aMissingForeignOrUnreadableStoreIsRefusedWithAReason() async throws {
        let directory = try temporaryDirectory()
        try "not a database".write(to: directory.appendingPathComponent("notes.sqlite"), atomically: true, encoding: .utf8)
        _ = try SQLiteStudyStore(path: directory.appendingPathComponent("studies.sqlite").path)
        // The response cache: a SQLite file of Strata's, but not a store the studio shows (an easy mistake).
        _ = try ResponseCache(path: directory.appendingPathComponent("cache.sqlite").path)
        let missing = try await StrataBinary.run(["studio", "--store", "missing.sqlite"], in: directory)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("missing.sqlite: no such file"), "\(missing.stderr)")
        let text = try await StrataBinary.run(["studio", "--store", "notes.sqlite"], in: directory)
        #expect(text.status == 1)
        #expect(text.stderr.contains("notes.sqlite is not a SQLite database the studio can read"), "\(text.stderr)")
        let cache = try await StrataBinary.run(["studio", "--store", "cache.sqlite"], in: directory)
        #expect(cache.status == 1)
        #expect(cache.stderr.contains("cache.sqlite is not a Strata store: it has neither a study store's tables"), "\(cache.stderr)")
        let postgres = try await StrataBinary.run(["studio", "--runs", "postgres://u@127.0.0.1:1/db"], in: directory)
        #expect(postgres.status == 1 && postgres.stderr.contains("a PostgreSQL store holds the runs too; give it as --store"))
        let exposed = try await StrataBinary.run(["studio", "--store", "studies.sqlite", "--host", "0.0.0.0"], in: directory)
        #expect(exposed.status == 1 && exposed.stderr.contains("without API keys"), "\(exposed.stderr)")
        let nothing = try await StrataBinary.run(["studio"], in: directory)
        #expect(nothing.status == 1 && nothing.stderr.contains("nothing to show"), "\(nothing.stderr)")
    }

    @Test func theStudioWritesNothingToTheStores() async throws {
        let directory = try temporaryDirectory()
        let (path, study) = try await Self.studyStore(trials: 12, in: directory)
        func digest() throws -> [String] {
            try ["", "-wal"].map { suffix in
                let data = (try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data()
                return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            }
        }
        let before = try digest()
        let source = try StudioSource(studyStore: path, runStore: nil)
        try await Self.withStudio(source) { base in
            for page in ["/", "/studio.js", "/studio.css", "/api/overview", "/api/studies/\(study)", "/api/studies/\(study)/trials/3"] {
                let response = try await Self.get(base + page)
                #expect(response.status == 200, "\(page): \(response.body)")
            }
            let page = try await Self.get(base + "/")
            #expect(page.headers["content-security-policy"]?.contains("script-src 'self'") == true)
            #expect(page.body.contains("<script src=\"/studio.js\""))
            let missing = try await Self.get(base + "/api/studies/nope")
            #expect(missing.status == 404)
            // Writing is not something the studio does: a POST finds no route.
            var post = HTTPClientRequest(url: base + "/api/studies/\(study)")
            post.method = .POST
            let refused = try await HTTPClient.shared.execute(post, timeout: .seconds(10))
            #expect(refused.status.code >= 400)
        }
        #expect(try digest() == before, "the study store's files are unchanged")
    }

    @Test func theStudyAPIGivesImportanceAndItemsInNaturalOrder() async throws {
        let directory = try temporaryDirectory()
        let (path, study) = try await Self.studyStore(trials: 12, in: directory)
        let source = try StudioSource(studyStore: path, runStore: nil)
        try await Self.withStudio(source) { base in
            let view = try JSONSerialization.jsonObject(with: Data(try await Self.get(base + "/api/studies/\(study)").body.utf8)) as? [String: Any]
            let importance = try #require(view?["importance"] as? [[String: Any]])
            #expect(importance.first?["axis"] as? String == "samples")
            #expect(abs((importance.first?["share"] as? Double ?? 0) - 1) < 1e-9, "samples decides the objective")
            #expect((importance.last?["share"] as? Double ?? 1) < 0.05, "seed is noise")
            #expect((view?["trials"] as? [Any])?.count == 12)
            let trial = try JSONSerialization.jsonObject(with: Data(try await Self.get(base + "/api/studies/\(study)/trials/5").body.utf8)) as? [String: Any]
            #expect((trial?["itemScores"] as? [[String: Any]])?.map { $0["id"] as? String } == ["q1", "q2", "q10"])
            #expect(trial?["yaml"] as? String == "samples: 2\nseed: 2\n")
        }
    }

    @Test func withKeysABrowserKeepsACookieAndOthersAreRefused() async throws {
        let directory = try temporaryDirectory()
        let (path, _) = try await Self.studyStore(trials: 2, in: directory)
        let source = try StudioSource(studyStore: path, runStore: nil)
        try await Self.withStudio(source, keys: ["k-secret-1"]) { base in
            #expect(try await Self.get(base + "/api/overview").status == 401)
            #expect(try await Self.get(base + "/api/overview", headers: [("authorization", "Bearer wrong")]).status == 401)
            #expect(try await Self.get(base + "/api/overview", headers: [("authorization", "Bearer k-secret-1")]).status == 200)
            let opened = try await Self.get(base + "/?key=k-secret-1")
            #expect(opened.status == 303, "\(opened.body)")
            let cookie = try #require(opened.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
            #expect(opened.headers["set-cookie"]?.contains("HttpOnly") == true)
            #expect(try await Self.get(base + "/api/overview", headers: [("cookie", cookie)]).status == 200)
        }
    }
}
