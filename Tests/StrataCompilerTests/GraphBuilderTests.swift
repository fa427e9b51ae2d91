import Foundation
import Strata
import StrataTestSupport
import Testing

let header = """
    strata: 1
    models:
      m: { provider: openai-compatible, model: q, base_url: http://127.0.0.1:9/v1, context_window: 32768,
           price: { input: 1, output: 2 }, limits: { max_in_flight: 100 }, latency: { overhead_ms: 200, tokens_per_second: 1000000 } }
      n: { provider: openai-compatible, model: r, base_url: http://127.0.0.1:9/v1, context_window: 32768,
           limits: { max_in_flight: 2 }, latency: { overhead_ms: 1000, tokens_per_second: 100 } }
    defaults: { max_tokens: 100, seed: 10 }

    """

@Suite struct GraphBuilderTests {
    @Test func writtenTestsGateTheEnsembleAndAreGradedWithoutASecondWriter() throws {
        let compiled = try compiled(
            header + """
                layers:
                  - write-tests: { model: n, tests: 4 }
                  - ensemble: [{ model: m, samples: 3 }]
                  - unit-test: { model: m, test_source: written, top_k: 1, on_empty: keep-all }
                """)
        let graph = compiled.graph
        let writers = graph.nodes.filter { $0.operation == .writeTests }
        #expect(writers.count == 1)
        let writer = try #require(writers.first)
        #expect(writer.dependencies.isEmpty)
        #expect(graph.nodes[writer.id].model == 1)
        // Every sample waits for the tests it is shown; every judge grades the same tests.
        let show = try #require(graph.nodes.first { $0.operation == .showTests })
        #expect(show.dependencies == [writer.id])
        #expect(graph.nodes.filter { $0.operation == .generate }.allSatisfy { $0.dependencies == [show.id] })
        #expect(graph.nodes.filter { $0.operation == .judgeTests }.allSatisfy { $0.dependencies.contains(writer.id) })
        #expect(compiled.cost.layers.map(\.calls) == [1, 3, 3])
        // The writer's round (1 s + 100 tokens at 100/s) comes before the samples and the judges.
        #expect(abs(compiled.cost.total.latencySeconds - 2.4) < 0.01)
    }

    @Test func sampleRankFuseHasOneNodePerCallAndThreeRoundsOfLatency() throws {
        let compiled = try compiled(
            header + """
                layers:
                  - ensemble: [{ model: m, samples: 10 }]
                  - rank: { model: m, top_k: 5 }
                  - fuse: [m]
                """)
        let graph = compiled.graph
        let calls = graph.nodes.filter(\.operation.isCall)
        #expect(calls.count == 12)
        #expect(calls.filter { $0.operation == .generate }.count == 10)
        // Distinct samples, distinct seeds, numbered from the base seed.
        let generations = calls.filter { $0.operation == .generate }
        #expect(generations.map(\.sample) == (0..<10).map { $0 })
        #expect(generations.map(\.seed) == (10..<20).map { $0 })
        // Dependencies always point backwards; the answer is the last node.
        for node in graph.nodes { #expect(node.dependencies.allSatisfy { $0 < node.id }) }
        #expect(graph.nodes[graph.answer].operation == .answer)
        // Three dependent rounds of ~0.2 s each.
        #expect(abs(compiled.cost.total.latencySeconds - 0.6) < 0.01)
        #expect(compiled.cost.layers.map(\.calls) == [10, 1, 1])
    }

    @Test func verifyChainsReasoningBeforeVerdictPerCandidate() throws {
        let compiled = try compiled(
            header + """
                layers:
                  - ensemble: [{ model: m, samples: 3 }]
                  - verify: { model: m, on_empty: keep-all }
                  - fuse: [m]
                """)
        let nodes = compiled.graph.nodes
        let verdicts = nodes.filter { $0.operation == .verifyVerdict }
        #expect(verdicts.count == 3)
        for verdict in verdicts {
            let reasoning = nodes[verdict.dependencies[0]]
            #expect(reasoning.operation == .verifyReasoning)
            #expect(reasoning.candidate == verdict.candidate)
        }
        #expect(compiled.cost.layers[1].calls == 6)
        #expect(abs(compiled.cost.total.latencySeconds - 0.8) < 0.01)
    }

    @Test func unitTestExecuteRunsSandboxStepsNotCalls() throws {
        let compiled = try compiled(
            header + """
                layers:
                  - ensemble: [{ model: m, samples: 4 }]
                  - unit-test: { model: m, mode: execute, top_k: 1, on_empty: keep-all, timeout_s: 3 }
                """)
        let layer = compiled.graph.nodes.filter { $0.layer == 1 }
        #expect(layer.filter(\.operation.isCall).map(\.operation) == [.writeTests])
        #expect(layer.filter { $0.operation == .executeTests }.count == 4)
        // The tests are written while the candidates are, and each candidate's
        // run starts when its own sample exists: one sample, then one sandbox run.
        #expect(abs(compiled.cost.total.latencySeconds - (0.2 + 3)) < 0.01)
        #expect(layer.first { $0.operation == .writeTests }?.dependencies == [])
        for run in layer where run.operation == .executeTests {
            #expect(compiled.graph.nodes[run.dependencies[0]].operation == .generate)
            #expect(compiled.graph.nodes[run.dependencies[0]].sample == run.candidate)
        }
    }

    @Test func unitTestJudgeGradesEveryCandidate() throws {
        let compiled = try compiled(
            header + """
                layers:
                  - ensemble: [{ model: m, samples: 4 }]
                  - unit-test: { model: m, top_k: 1, on_empty: keep-all }
                """)
        #expect(compiled.cost.layers[1].calls == 5)
    }

    @Test func concurrencyLimitsAddWaves() throws {
        // n allows 2 in flight: 5 samples take 3 waves of 1 + 100/100 = 2 s.
        let compiled = try compiled(
            header + """
                layers:
                  - ensemble: [{ model: n, samples: 5 }]
                  - fuse: [m]
                """)
        #expect(abs(compiled.cost.layers[0].latencySeconds - 6) < 0.01)
    }

    @Test func samplesOfOneModelAcrossEntriesKeepDistinctIndices() throws {
        let compiled = try compiled(
            header + """
                layers:
                  - ensemble:
                      - { model: m, samples: 2 }
                      - { model: n, samples: 1 }
                      - { model: m, samples: 2, temperature: 1.0 }
                  - fuse: [m]
                """)
        let m = compiled.graph.nodes.filter { $0.operation == .generate && $0.model == 0 }
        #expect(m.map(\.sample) == [0, 1, 2, 3])
        #expect(Set(m.map(\.seed)).count == 4)
    }

    @Test func costAddsUpTokensAndDollars() throws {
        let compiled = try compiled(
            header + """
                budget: { query_tokens: 100 }
                layers:
                  - ensemble: [{ model: m, samples: 2 }]
                  - fuse: [m]
                """)
        let total = compiled.cost.total
        // Two generations and one fuse call of max_tokens 100 each.
        #expect(total.outputTokens == 300)
        let nodes = compiled.graph.nodes.filter(\.operation.isCall)
        #expect(total.inputTokens == nodes.reduce(0) { $0 + $1.inputTokens })
        // The fuse prompt embeds both candidates' max_tokens.
        let fuse = try #require(nodes.last)
        let generate = try #require(nodes.first)
        #expect(fuse.inputTokens > generate.inputTokens + 200)
        let expectedUSD = Double(total.inputTokens) * 1 / 1_000_000 + Double(total.outputTokens) * 2 / 1_000_000
        #expect(abs(total.usd - expectedUSD) < 1e-12)
    }

    /// What a prompt cache can serve: the samples after the first, a fuse's context that the critique before
    /// it read, a verdict's context that its reasoning call read; the first reader of a pool pays for it.
    @Test func theCostSaysWhatAPromptCacheCanServe() throws {
        let pipeline = try compiled(
            header + """
                budget: { query_tokens: 100 }
                layers:
                  - ensemble: [{ model: m, samples: 3 }]
                  - critique: { model: m }
                  - fuse: [m]
                  - verify: { model: m, on_empty: keep-all }
                """)
        let calls = pipeline.graph.nodes.filter(\.operation.isCall)
        let sample = try #require(calls.first), critique = try #require(calls.first { $0.operation == .critique })
        let (ensemble, critiqueLine, fuse, verify) = (pipeline.cost.layers[0], pipeline.cost.layers[1], pipeline.cost.layers[2], pipeline.cost.layers[3])
        #expect(ensemble.cacheableTokens == 2 * sample.inputTokens)
        #expect(critiqueLine.cacheableTokens == 0)
        // The critique's whole prompt but its own instruction is the fuse's opening.
        #expect(fuse.cacheableTokens > critique.inputTokens / 2 && fuse.cacheableTokens < fuse.inputTokens)
        // One verdict call per candidate reads the reasoning call's context again.
        let verdicts = calls.filter { $0.operation == .verifyVerdict }
        #expect(verdicts.count == 1 && verify.cacheableTokens > 100 && verify.cacheableTokens < verdicts[0].inputTokens)
        #expect(pipeline.cost.total.cacheableTokens == [ensemble, critiqueLine, fuse, verify].reduce(0) { $0 + $1.cacheableTokens })
        // An openai-compatible server's cached input costs what its input costs, unless its price says otherwise.
        #expect(pipeline.cost.total.cacheSavingUSD == 0)
        let discounted = try compiled(
            header.replacingOccurrences(of: "price: { input: 1, output: 2 }", with: "price: { input: 1, output: 2, cached_input: 0.25 }")
                + "layers:\n  - ensemble: [{ model: m, samples: 3 }]\n")
        #expect(abs(discounted.cost.total.cacheSavingUSD - Double(discounted.cost.total.cacheableTokens) * 0.75 / 1_000_000) < 1e-12)
    }

    @Test func theCostTableSaysWhatCanSpendLessThanTheWorstCase() throws {
        let compiled = try compiled(
            header + """
                budget: { latency_s: 60 }
                layers:
                  - ensemble: [{ model: m, samples: 9 }]
                  - vote: { early_stop: unbeatable, wave: 3 }
                  - fuse: [m]
                """)
        let table = compiled.render(.cost)
        #expect(compiled.cost.total.calls == 10, "the worst case is still every call")
        // Unbeatable over 9 samples, every prefix judged: 5 agreeing votes cannot be overtaken by the 4 left.
        #expect(
            table.contains(
                "Layer 2 (vote, early_stop: unbeatable) keeps 3 samples in flight and judges every prefix: as few as 5 of 9 when they agree (4 calls fewer"),
            "\(table)")
        #expect(table.contains("still running after 60.0 s answers from its last complete layer"))
        let quorum = try StrataTestSupport.compiled(
            header + """
                layers:
                  - ensemble: { models: [{ model: m, samples: 9 }], quorum: 7 }
                  - fuse: [m]
                """
        ).render(.cost)
        #expect(quorum.contains("Layer 1 (ensemble) goes on after the first 7 of 9 samples arrive"))
        // Every prefix is judged (waves no longer round the stop up): 4 agreeing
        // samples give P(majority) = 0.969; 8 of 15 cannot be overtaken.
        #expect(EarlyStop.confidence(0.95).fewestDraws(samples: 7) == 4)
        #expect(EarlyStop.unbeatable.fewestDraws(samples: 15) == 8)
        #expect(EarlyStop.window(3).fewestDraws(samples: 8) == 3)
        #expect(EarlyStop.consensus(0.9).fewestDraws(samples: 8) == 2)
    }

    @Test func samplesGoInOneRequestWhereTheModelTakesN() throws {
        let layers = """
            layers:
              - ensemble: [{ model: m, samples: 5 }, { model: n, samples: 2 }]
              - fuse: [m]
            """
        let batching = header.replacingOccurrences(of: "limits: { max_in_flight: 100 }", with: "limits: { max_in_flight: 100 }, capabilities: { n: true }")
        let batched = try compiled(batching + layers)
        let separate = try compiled(header + layers)
        let generates = batched.graph.nodes.filter { $0.operation == .generate }
        // m's five samples in one call; n does not take `n`, so its two stay separate.
        #expect(generates.map(\.completions) == [5, 1, 1])
        #expect(generates.map(\.sample) == [0, 0, 1])
        #expect(generates[0].outputTokens == 500)
        let prompt = generates[0].inputTokens
        #expect(batched.cost.total.calls == separate.cost.total.calls - 4)
        #expect(batched.cost.total.inputTokens == separate.cost.total.inputTokens - 4 * prompt)
        #expect(batched.cost.total.outputTokens == separate.cost.total.outputTokens)
        let table = batched.render(.cost)
        #expect(
            table.contains("Layer 1 (ensemble) asks m for 5 samples in one request (n): the prompt is sent and billed once, \(4 * prompt) input tokens"),
            "\(table)")
        #expect(batched.render(.mermaid).contains("generate m #0–4 (n=5)"))
        // A quorum and a vote that stops early need their samples as separate requests.
        let quorum = try compiled(
            batching + """
                layers:
                  - ensemble: { models: [{ model: m, samples: 5 }], quorum: 3 }
                """)
        #expect(quorum.graph.nodes.filter { $0.operation == .generate }.count == 5)
        let vote = try compiled(
            batching + """
                layers:
                  - ensemble: [{ model: m, samples: 5 }]
                  - vote: { early_stop: 0.9 }
                """)
        #expect(vote.graph.nodes.filter { $0.operation == .generate }.count == 5)
    }

    @Test func emittersDescribeTheSameGraph() throws {
        let compiled = try compiled(
            header + """
                layers:
                  - ensemble: [{ model: m, samples: 3 }]
                  - critique: { model: m }
                  - rank: { model: m, top_k: 2 }
                  - fuse: [m]
                """)
        let edges = compiled.graph.nodes.reduce(0) { $0 + $1.dependencies.count }
        let dot = compiled.render(.dot)
        #expect(dot.hasPrefix("digraph strata {"))
        #expect(dot.components(separatedBy: " -> ").count - 1 == edges)
        let mermaid = compiled.render(.mermaid)
        #expect(mermaid.hasPrefix("flowchart TD"))
        #expect(mermaid.components(separatedBy: " --> ").count - 1 == edges)
        #expect(mermaid.contains("subgraph L1[\"2. critique: pool 3 → 3\"]"))
        let json = try JSONSerialization.jsonObject(with: Data(compiled.render(.json).utf8)) as? [String: Any]
        let graph = try #require(json?["graph"] as? [String: Any])
        #expect((graph["nodes"] as? [Any])?.count == compiled.graph.nodes.count)
        let cost = compiled.render(.cost)
        #expect(cost.contains("total"))
        #expect(cost.contains("critique  3 → 3"))
    }

    @Test func overAHundredThousandCallsCompile() throws {
        let compiled = try compiled(
            header + """
                layers:
                  - ensemble: [{ model: m, samples: 34000 }, { model: n, samples: 1 }]
                  - verify: { model: m, first_k: 1, on_empty: fail }
                """)
        #expect(compiled.cost.total.calls == 34_001 + 2 * 34_001)
        #expect(compiled.graph.nodes.filter(\.operation.isCall).count == compiled.cost.total.calls)
    }
}
