import Foundation
import Strata
import StrataTestServer
import StrataTestSupport
import Testing

/// `route`: a cascade that escalates only when its cheap branch is unsure, and a match that picks a branch by the query.
@Suite struct RouteTests {
    static let cascade = """
          - route:
              cascade: { threshold: 0.75 }
              branches:
                quick:
                  - ensemble: [{ model: m, samples: 4 }]
                  - vote: {}
                careful:
                  - ensemble: [{ model: m, samples: 6, prompt: "Think step by step." }]
                  - vote: {}
        """

    /// Quick samples (no system prompt) agree on "easy" queries and split on hard ones; careful ones always say 42.
    static func server() throws -> ScriptedLLMServer {
        try ScriptedLLMServer { request, _ in
            let careful = request.promptText.contains("step by step")
            if careful { return .text("It is 42.") }
            let hard = request.promptText.contains("hard")
            return .text(hard ? "It is \((request.seed ?? 0) % 4)." : "It is 42.")
        }
    }

    @Test func aCascadeAnswersEasyQueriesFromItsCheapBranch() async throws {
        let server = try Self.server()
        let rt = try runtime(try pipeline(Self.cascade, server: server))
        let easy = await rt.run(Query(prompt: "An easy one: 6 × 7?"))
        #expect(easy.answer == "It is 42.", "\(easy.failure ?? "")")
        #expect(server.requestCount == 4, "the careful branch never ran")
        #expect(easy.usage.calls == 4)
        #expect(easy.layers[0].notes.contains("route: branch quick's agreement is 1.00 ≥ 0.75 → answered from quick"), "\(easy.layers[0].notes)")
        #expect(easy.layers[0].notes.contains { $0.hasPrefix("quick · layer 2 (vote): vote (numeric): 42: 4") })

        server.resetRecords()
        let hard = await rt.run(Query(prompt: "A hard one: 6 × 7?"))
        try await rt.shutdown()
        #expect(hard.answer == "It is 42.", "\(hard.failure ?? "")")
        #expect(server.requestCount == 10, "quick's 4 samples, then careful's 6")
        #expect(hard.usage.calls == 10)
        #expect(hard.layers[0].notes.contains("route: branch quick's agreement is 0.25 < 0.75 → escalating to careful"), "\(hard.layers[0].notes)")
        #expect(hard.layers[0].notes.contains("route: answered from careful, the last branch"))
    }

    @Test func aMatchRunsOneBranchChosenByTheQuery() async throws {
        let server = try Self.server()
        let rt = try runtime(
            try pipeline(
                """
                  - route:
                      match:
                        - { regex: "(?i)prove|derive", branch: careful }
                        - { longer_than: 60, branch: careful }
                      default: quick
                      branches:
                        quick: [ { ensemble: [ { model: m, samples: 1 } ] } ]
                        careful: [ { ensemble: [ { model: m, samples: 3, prompt: "Think step by step." } ] }, { vote: {} } ]
                """, server: server))
        let short = await rt.run(Query(prompt: "6 × 7?"))
        #expect(server.requestCount == 1)
        #expect(short.layers[0].notes.first == "route: no arm matched → branch quick")
        server.resetRecords()
        let proof = await rt.run(Query(prompt: "Prove that 6 × 7 = 42."))
        try await rt.shutdown()
        #expect(server.requestCount == 3)
        #expect(proof.answer == "It is 42.")
        #expect(proof.layers[0].notes.first == "route: the query is regex (?i)prove|derive → branch careful")
    }

    @Test func theCostTableShowsEveryBranchAndTheWorstCase() throws {
        let server = try Self.server()
        let compiled = try compiled(
            """
            strata: 1
            models:
              m: { provider: openai-compatible, model: test-model, base_url: "\(server.baseURL)" }
            layers:
            \(Self.cascade)
            """)
        #expect(compiled.cost.total.calls == 10, "the worst case runs both branches")
        let table = compiled.render(.cost)
        #expect(table.contains("Layer 1 (route) cascades through quick → careful"), "\(table)")
        #expect(table.contains("branch quick: 4 calls"))
        #expect(table.contains("a query that stops here has sent at most 10 calls"))
        #expect(table.contains("as few as 4 calls per query, at worst 10 (every branch)"))
    }
}

/// `classify`: one cold call rates the query, and a table picks the branch.
@Suite struct ClassifyRouteTests {
    static let layers = """
          - route:
              classify: { model: m, table: { 1: quick, 2: quick, 5: careful } }
              default: careful
              branches:
                quick: [ { ensemble: [ { model: m, samples: 1 } ] } ]
                careful: [ { ensemble: [ { model: m, samples: 3, prompt: "Think step by step." } ] }, { vote: {} } ]
        """

    @Test func aRatingPicksTheBranchAndAnUnlistedOneTheDefault() async throws {
        // The rater says 1 for "easy" queries, 5 for "hard" ones, and 3 (not in the table) otherwise.
        let server = try ScriptedLLMServer { request, _ in
            let text = request.promptText
            if text.contains("Rate how hard") {
                return .text(text.contains("An easy one") ? "1" : text.contains("A hard one") ? "Rating: 5" : "3")
            }
            return .text("It is 42.")
        }
        let rt = try runtime(try pipeline(Self.layers, server: server))
        let easy = await rt.run(Query(prompt: "An easy one."))
        #expect(easy.answer == "It is 42.", "\(easy.failure ?? "")")
        #expect(easy.usage.calls == 2, "the rating and quick's one sample")
        #expect(easy.layers[0].notes.first == "route: rated 1 → branch quick")
        let rater = try #require(server.requests.first { $0.promptText.contains("Rate how hard") })
        #expect(rater.body["temperature"] as? Double == 0 && rater.body["max_tokens"] as? Int == 4)
        let hard = await rt.run(Query(prompt: "A hard one."))
        #expect(hard.usage.calls == 4)
        #expect(hard.layers[0].notes.first == "route: rated 5 → branch careful")
        let other = await rt.run(Query(prompt: "Something else."))
        try await rt.shutdown()
        #expect(other.layers[0].notes.first == "route: no rating in the table in '3' → the default, branch careful")
    }

    @Test func theCostCountsTheRatingCall() throws {
        let server = try ScriptedLLMServer()
        let compiled = try compiled(
            """
            strata: 1
            models:
              m: { provider: openai-compatible, model: test-model, base_url: "\(server.baseURL)" }
            layers:
            \(Self.layers)
            """)
        #expect(compiled.cost.total.calls == 4, "one rating and the costliest branch")
        #expect(compiled.graph.fewestCalls == 2)
        #expect(compiled.render(.cost).contains("from 2 to 4 calls per query, the rating included"))
    }
}
