import Foundation
import StrataChecker
import StrataCompiler
import StrataProviders
import StrataSandbox
import StrataSyntax

/// What each kind of node does, as semantics.md defines the layers: calls
/// make candidates, critiques, rankings, verdicts and tests; pure steps turn
/// them into the layer's pool.
extension QueryRun {
    func work(_ node: GraphNode, inputs: [NodeOutput]) async throws -> NodeOutput {
        let position = plan.layerOf[node.id]
        let layer = runtime.pipeline.layers[position]
        let context = contexts[position]
        let inputPool = inputs.lazy.compactMap(\.pool).first ?? .empty
        switch node.operation {
        case .generate, .fuse:
            return try await generate(node, layer: layer, pool: inputPool, context: context)
        case .collect:
            return .pool(try collect(layer, inputs: inputs, context: context))
        case .critique:
            return try await critique(layer, pool: inputPool, context: context)
        case .parseCritiques:
            return .pool(Pool(candidates: try attachCritiques(layer, pool: nonEmpty(inputPool), reply: inputs.last ?? .skipped, context: context)))
        case .rank:
            return try await rankCall(layer, pool: inputPool, context: context)
        case .selectTopK:
            return .pool(Pool(candidates: try selectTopK(layer, pool: nonEmpty(inputPool), reply: inputs.last ?? .skipped, context: context)))
        case .verifyReasoning:
            guard let candidate = candidate(for: node, inputs: inputs) else { return .skipped }
            return try await verifyReasoning(node, layer: layer, candidate: candidate, context: context)
        case .verifyVerdict:
            guard case .reasoning(let candidate, let reasoning)? = inputs.first else { return .skipped }
            guard let reasoning else { return .verdict(nil) }
            return try await verdict(node, layer: layer, candidate: candidate, reasoning: reasoning, context: context)
        case .filterVerdicts:
            return .pool(Pool(candidates: try filterVerdicts(layer, pool: nonEmpty(inputPool), verdicts: Array(inputs.dropFirst()),
                                                             streamed: plan.streamed[position], context: context)))
        case .writeTests:
            return try await writeTests(layer, context: context)
        case .executeTests, .judgeTests:
            guard let candidate = candidate(for: node, inputs: inputs), let tests = tests(layer, inputs: inputs) else { return .skipped }
            return try await grade(node, layer: layer, candidate: candidate, tests: tests, context: context)
        case .selectByTests:
            return .pool(Pool(candidates: try selectByTests(layer, pool: nonEmpty(inputPool), inputs: inputs, streamed: plan.streamed[position],
                                                            context: context)))
        case .vote:
            return .pool(Pool(candidates: LayerExecutors.vote(layer, pool: try nonEmpty(inputPool).candidates, context: context)))
        case .answer:
            return .pool(inputPool)
        }
    }

    /// Every layer after the first works on candidates; with none it stops the query.
    func nonEmpty(_ pool: Pool) throws -> Pool {
        if pool.candidates.isEmpty { throw QueryFailure(reason: "no candidates to work on") }
        return pool
    }

    /// The candidate a per-candidate node works on: the reply of the call it
    /// waits for, or its position in the pool it waits for.
    func candidate(for node: GraphNode, inputs: [NodeOutput]) -> Candidate? {
        switch inputs.first {
        case .generated(.success(let candidate))?: return candidate
        case .pool(let pool)?:
            guard let index = node.candidate, index < pool.candidates.count else { return nil }
            return pool.candidates[index]
        default: return nil
        }
    }

    /// The output of the per-candidate node about the pool's candidate `index`.
    func perCandidate(_ outputs: [NodeOutput], pool: Pool, index: Int, streamed: Bool) -> NodeOutput? {
        let position = streamed ? pool.calls?[index] : index
        guard let position, position < outputs.count else { return nil }
        return outputs[position]
    }

    // MARK: ensemble and fuse

    /// One sample of an ensemble or fuse entry, with its own seed.
    func generate(_ node: GraphNode, layer: CheckedLayer, pool: Pool, context: LayerContext) async throws -> NodeOutput {
        let isFuse = layer.kind == .fuse
        if isFuse, pool.candidates.isEmpty { return .skipped }
        let role: CallRole = isFuse ? .fuse : .generate
        let entry = layer.entries[node.entry ?? 0]
        let template = entry.prompt ?? layer.prompts[role] ?? ""
        let messages: [ChatMessage]
        if isFuse {
            let prompt = PromptRenderer.render(template, [
                "query": PromptRenderer.queryText(query.messages),
                "candidates": PromptRenderer.candidatesText(pool.candidates, critiques: true),
                "n": String(pool.candidates.count),
                "length_control": layer.lengthControl ? PromptTemplate.lengthControlSentence : "",
            ])
            messages = [.system(prompt)] + query.messages
        } else {
            messages = [.system(template)] + query.messages
        }
        let sample = node.sample ?? 0
        let name = runtime.pipeline.models[entry.model].name
        if node.completions > 1 {
            let samples = sample..<(sample + node.completions)
            let results = await context.replies(role.rawValue, entry: entry, messages: messages, samples: samples, candidate: nil)
            if Task.isCancelled { throw CancellationError() }
            return .samples(zip(samples, results).map { index, result in
                candidate(result, origin: "\(name)#\(index)", entry: entry, context: context)
            })
        }
        let isLast = plan.layerOf[node.id] == runtime.pipeline.layers.count - 1
        let streamThis = isLast && plan.callCounts[plan.layerOf[node.id]] == 1 ? onDelta : nil
        let result = await context.reply(role.rawValue, entry: entry, messages: messages, sample: sample, candidate: nil, onDelta: streamThis)
        if Task.isCancelled { throw CancellationError() }
        return .generated(candidate(result, origin: "\(name)#\(sample)", entry: entry, context: context))
    }

    /// A sample's reply as a candidate, or why it was dropped (noted either way when it matters).
    func candidate(_ result: Result<CallReply, ProviderError>, origin: String, entry: CheckedEntry,
                   context: LayerContext) -> Result<Candidate, FailedCall> {
        switch result {
        case .success(let reply):
            if reply.truncated { context.note("\(origin) stopped at max_tokens (\(entry.sampling.maxTokens))") }
            return .success(Candidate(text: reply.text, origin: origin, truncated: reply.truncated ? true : nil))
        case .failure(let error):
            context.note("dropped \(origin): \(error)")
            return .failure(FailedCall(reason: "\(origin): \(error)"))
        }
    }

    /// The layer's candidates in call order; when every call failed, what its `on_failure` says.
    func collect(_ layer: CheckedLayer, inputs: [NodeOutput], context: LayerContext) throws -> Pool {
        let given = inputs.lazy.compactMap(\.pool).first ?? .empty
        if layer.kind != .ensemble, given.candidates.isEmpty { throw QueryFailure(reason: "no candidates to work on") }
        var candidates: [Candidate] = [], calls: [Int] = []
        var failures: [String] = []
        // Calls in graph order; one not made (a quorum was met, a vote stopped early) is `.skipped`.
        let callOutputs = layer.kind == .ensemble ? inputs[...] : inputs.dropFirst()
        // A position per sample: a call with several completions takes several.
        var position = 0
        for output in callOutputs {
            for result in output.generatedSamples {
                switch result {
                case .success(let candidate):
                    calls.append(position)
                    candidates.append(candidate)
                case .failure(let failed):
                    failures.append(failed.reason)
                }
                position += 1
            }
            if case .skipped = output { position += 1 }
        }
        let isLast = layer.index == runtime.pipeline.layers.last?.index
        if candidates.isEmpty {
            let reason = "every call failed (\(failures.first ?? "no calls"))"
            let fallback = try LayerExecutors.fallback(layer, pool: given.candidates, reason: reason, context: context)
            if isLast, let first = fallback.first?.text { onDelta?(first) }
            return Pool(candidates: fallback, calls: nil)
        }
        // A single call streamed its text as it came; several show the first candidate once known.
        if isLast, plan.callCounts[runtime.pipeline.layers.count - 1] != 1, let first = candidates.first?.text { onDelta?(first) }
        return Pool(candidates: candidates, calls: calls)
    }

    // MARK: critique

    /// One call lists strengths and weaknesses of every candidate; the reply is
    /// split into exactly N critiques, asked again with new seeds when it cannot be.
    func critique(_ layer: CheckedLayer, pool: Pool, context: LayerContext) async throws -> NodeOutput {
        guard !pool.candidates.isEmpty else { return .skipped }
        let prompt = PromptRenderer.render(layer.prompts[.critique] ?? "", [
            "query": PromptRenderer.queryText(query.messages),
            "candidates": PromptRenderer.candidatesText(pool.candidates, critiques: false),
            "n": String(pool.candidates.count),
        ])
        let structured = layer.structuredOutput
        let message = structured
            ? prompt + "\nAnswer in JSON: {\"critiques\": [{\"strengths\": \"…\", \"weaknesses\": \"…\"}, …]}, one entry per response, in order."
            : prompt
        var lastProblem = "no reply"
        for attempt in 0...runtime.options.malformedRetries {
            switch await context.call(CallRole.critique.rawValue, entry: layer.entries[0], messages: [.user(message)], sample: nil,
                                      candidate: nil, seedOffset: attempt * 1_000_003,
                                      schema: structured ? LayerExecutors.critiqueSchema : nil) {
            case .success(let text):
                if let critiques = ReplyParsers.critiques(text, count: pool.candidates.count) { return .critiques(.success(critiques)) }
                lastProblem = "the reply does not hold exactly \(pool.candidates.count) critiques"
                context.note("critique attempt \(attempt + 1): \(lastProblem); retrying with a new seed")
            case .failure(let error):
                if error == .cancelled { throw CancellationError() }
                lastProblem = error.description
            }
        }
        return .critiques(.failure(FailedCall(reason: lastProblem)))
    }

    func attachCritiques(_ layer: CheckedLayer, pool: Pool, reply: NodeOutput, context: LayerContext) throws -> [Candidate] {
        switch reply {
        case .critiques(.success(let critiques)):
            return zip(pool.candidates, critiques).map { candidate, critique in
                var candidate = candidate
                candidate.critique = critique
                return candidate
            }
        case .critiques(.failure(let failed)) where layer.onMalformed == .passThrough:
            context.note("critique failed (\(failed.reason)); passing the pool on without critiques, as the pipeline says")
            return pool.candidates
        case .critiques(.failure(let failed)):
            throw QueryFailure(reason: "critique failed: \(failed.reason)")
        default:
            throw QueryFailure(reason: "critique failed: no reply")
        }
    }

    // MARK: rank

    /// One call asks for a permutation of the pool.
    func rankCall(_ layer: CheckedLayer, pool: Pool, context: LayerContext) async throws -> NodeOutput {
        guard pool.candidates.count > 1 else { return .skipped }
        let topK = min(layer.topK ?? 1, pool.candidates.count)
        var prompt = PromptRenderer.render(layer.prompts[.rank] ?? "", [
            "query": PromptRenderer.queryText(query.messages),
            "candidates": PromptRenderer.candidatesText(pool.candidates, critiques: true),
            "n": String(pool.candidates.count),
            "top_k": String(topK),
        ])
        if layer.structuredOutput { prompt += "\nAnswer in JSON: {\"ranking\": [ids, best first]}." }
        let result = await context.call(CallRole.rank.rawValue, entry: layer.entries[0], messages: [.user(prompt)], sample: nil,
                                        candidate: nil, schema: layer.structuredOutput ? LayerExecutors.rankingSchema : nil)
        if case .failure(.cancelled) = result { throw CancellationError() }
        return .reply(result)
    }

    /// Reads the permutation, repairing a malformed one deterministically (the
    /// repair recorded), and keeps the top k.
    func selectTopK(_ layer: CheckedLayer, pool: Pool, reply: NodeOutput, context: LayerContext) throws -> [Candidate] {
        let candidates = pool.candidates
        let topK = min(layer.topK ?? 1, candidates.count)
        guard candidates.count > 1 else {
            context.note("one candidate: nothing to rank")
            return candidates
        }
        var order = Array(candidates.indices)
        switch reply {
        case .reply(.success(let text)):
            if let ranking = ReplyParsers.ranking(text, count: candidates.count) {
                order = ranking.order
                if let repair = ranking.repair { context.note("ranking repaired: \(repair)") }
            } else {
                context.note("no ranking could be read from the reply; keeping the input order")
            }
        case .reply(.failure(let error)):
            context.note("the rank call failed (\(error)); keeping the input order")
        default:
            context.note("no ranking: keeping the input order")
        }
        context.note("ranking: " + order.map { "[\($0 + 1)]" }.joined(separator: " > ") + ", keeping \(topK)")
        return order.prefix(topK).map { candidates[$0] }
    }

    // MARK: verify

    func verifyReasoning(_ node: GraphNode, layer: CheckedLayer, candidate: Candidate, context: LayerContext) async throws -> NodeOutput {
        let prompt = PromptRenderer.render(layer.prompts[.verifyReasoning] ?? "",
                                           ["query": PromptRenderer.queryText(query.messages), "candidate": candidate.text])
        let result = await context.call(CallRole.verifyReasoning.rawValue, entry: layer.entries[0], messages: [.user(prompt)],
                                        sample: nil, candidate: node.candidate)
        if case .failure(.cancelled) = result { throw CancellationError() }
        return .reasoning(candidate, try? result.get())
    }

    /// The verdict on one candidate, asked again with new seeds while it cannot be read.
    func verdict(_ node: GraphNode, layer: CheckedLayer, candidate: Candidate, reasoning: String, context: LayerContext) async throws -> NodeOutput {
        var prompt = PromptRenderer.render(layer.prompts[.verifyVerdict] ?? "",
                                           ["query": PromptRenderer.queryText(query.messages), "candidate": candidate.text, "reasoning": reasoning])
        if layer.structuredOutput { prompt += "\nAnswer in JSON: {\"verdict\": \"correct\"} or {\"verdict\": \"incorrect\"}." }
        for attempt in 0...runtime.options.malformedRetries {
            let result = await context.call(CallRole.verifyVerdict.rawValue, entry: layer.entries[0], messages: [.user(prompt)],
                                            sample: nil, candidate: node.candidate, seedOffset: attempt * 1_000_003,
                                            schema: layer.structuredOutput ? LayerExecutors.verdictSchema : nil)
            switch result {
            case .success(let text):
                if let verdict = ReplyParsers.verdict(text) { return .verdict(verdict) }
            case .failure(.cancelled):
                throw CancellationError()
            case .failure:
                break
            }
        }
        return .verdict(nil)
    }

    /// Keeps the candidates judged correct, in pool order. With `first_k`, the
    /// first k correct ones (the driver stops the rest once they are known).
    func filterVerdicts(_ layer: CheckedLayer, pool: Pool, verdicts: [NodeOutput], streamed: Bool, context: LayerContext) throws -> [Candidate] {
        var kept: [Candidate] = []
        for (index, candidate) in pool.candidates.enumerated() {
            var verdict: Bool?
            if case .verdict(let value)? = perCandidate(verdicts, pool: pool, index: index, streamed: streamed) { verdict = value }
            switch verdict {
            case true?: kept.append(candidate)
            case false?: context.note("[\(index + 1)] judged incorrect")
            case nil: context.note("[\(index + 1)] unverified: no readable verdict (counted as not correct)")
            }
            if let k = layer.firstK, kept.count == k { break }
        }
        if kept.isEmpty {
            switch layer.onEmpty {
            case .keepAll?:
                context.note("no candidate was judged correct; keeping all \(pool.candidates.count) (on_empty: keep-all)")
                return pool.candidates
            case .fail?: throw QueryFailure(reason: "no candidate was judged correct (on_empty: fail)")
            case nil: context.note("no candidate was judged correct")
            }
        }
        return kept
    }

    // MARK: unit-test

    /// The test writer's call: assertions to execute, or statements for a judge.
    func writeTests(_ layer: CheckedLayer, context: LayerContext) async throws -> NodeOutput {
        let execute = layer.mode == .execute
        var prompt = PromptRenderer.render(layer.prompts[.writeTests] ?? "",
                                           ["query": PromptRenderer.queryText(query.messages), "test_count": String(layer.tests)])
        // Executable tests are code; only natural-language tests come back as JSON.
        let structured = layer.structuredOutput && !execute
        if structured { prompt += "\nAnswer in JSON: {\"tests\": [\"…\", …]}." }
        switch await context.call(CallRole.writeTests.rawValue, entry: layer.entries[0], messages: [.user(prompt)], sample: nil,
                                  candidate: nil, schema: structured ? LayerExecutors.testsSchema : nil) {
        case .success(let text):
            var tests = TestSet()
            if execute {
                tests.executable = Array(ReplyParsers.assertions(text).prefix(layer.tests))
            } else {
                tests.judged = Array(ReplyParsers.judgeTests(text).prefix(layer.tests))
            }
            if tests.count > 0 { noteTests(tests, context: context) }
            return .tests(.success(tests))
        case .failure(.cancelled):
            throw CancellationError()
        case .failure(let error):
            return .tests(.failure(FailedCall(reason: "writing the tests failed: \(error)")))
        }
    }

    func noteTests(_ tests: TestSet, context: LayerContext) {
        context.note("\(tests.count) test\(tests.count == 1 ? "" : "s")"
                     + (tests.executable.isEmpty ? ": " + tests.judged.joined(separator: " | ") : " to execute"))
    }

    /// The tests a grader uses: the test writer's, or the dataset's.
    func tests(_ layer: CheckedLayer, inputs: [NodeOutput]) -> TestSet? {
        if layer.testSource == .dataset { return query.tests.map { TestSet(executable: [$0]) } }
        for case .tests(.success(let tests)) in inputs where tests.count > 0 { return tests }
        return nil
    }

    /// Runs one candidate's code against the tests in the sandbox, or asks the judge which tests it passes.
    func grade(_ node: GraphNode, layer: CheckedLayer, candidate: Candidate, tests: TestSet, context: LayerContext) async throws -> NodeOutput {
        let index = node.candidate ?? 0
        if layer.mode == .execute {
            // Model-written asserts run one by one; a dataset's test program runs whole (all or nothing).
            let limits = SandboxLimits(memoryMB: layer.memoryMB, wallSeconds: layer.timeoutSeconds)
            let check = await Sandbox.check(solution: ReplyParsers.code(candidate.text), tests: tests.executable, limits: limits)
            if Task.isCancelled { throw CancellationError() }
            let count = check.passed.filter { $0 }.count
            context.note("[\(index + 1)] passed \(count)/\(tests.count) executed tests" + (check.result.timedOut ? " (timed out)" : ""))
            return .passed(count)
        }
        let testsText = tests.judged.enumerated().map { "[\($0.offset + 1)] \($0.element)" }.joined(separator: "\n")
        var prompt = PromptRenderer.render(layer.prompts[.judgeTests] ?? "",
                                           ["query": PromptRenderer.queryText(query.messages), "candidate": candidate.text, "tests": testsText])
        if layer.structuredOutput { prompt += "\nAnswer in JSON: {\"passed\": [true or false for each test, in order]}." }
        switch await context.call(CallRole.judgeTests.rawValue, entry: layer.entries[0], messages: [.user(prompt)], sample: nil,
                                  candidate: index, schema: layer.structuredOutput ? LayerExecutors.passedSchema : nil) {
        case .success(let text): return .passed(ReplyParsers.passedCount(text, tests: tests.count))
        case .failure(.cancelled): throw CancellationError()
        case .failure: return .passed(0)
        }
    }

    /// Drops candidates that pass no test, sorts by tests passed (stable) and keeps the top k.
    func selectByTests(_ layer: CheckedLayer, pool: Pool, inputs: [NodeOutput], streamed: Bool, context: LayerContext) throws -> [Candidate] {
        if layer.testSource == .dataset {
            guard let tests = query.tests else { throw QueryFailure(reason: "the query carries no tests (test_source: dataset)") }
            noteTests(TestSet(executable: [tests]), context: context)
        } else {
            for case .tests(.failure(let failed)) in inputs {
                return try LayerExecutors.fallback(layer, pool: pool.candidates, reason: failed.reason, context: context)
            }
            guard tests(layer, inputs: inputs) != nil else { throw QueryFailure(reason: "no tests could be read from the test writer's reply") }
        }
        let graded = inputs.filter {
            switch $0 {
            case .passed, .skipped: true
            default: false
            }
        }
        let scored = pool.candidates.enumerated().map { index, candidate -> Candidate in
            var candidate = candidate
            if case .passed(let count)? = perCandidate(graded, pool: pool, index: index, streamed: streamed) {
                candidate.testsPassed = count
            } else {
                candidate.testsPassed = 0
            }
            return candidate
        }
        var survivors = scored.filter { ($0.testsPassed ?? 0) > 0 }
        if survivors.isEmpty {
            switch layer.onEmpty {
            case .keepAll?:
                context.note("no candidate passed a test; keeping all (on_empty: keep-all)")
                survivors = scored
            case .fail?: throw QueryFailure(reason: "no candidate passed a test (on_empty: fail)")
            case nil: context.note("no candidate passed a test")
            }
        }
        // A stable sort: ties keep pool order.
        let sorted = survivors.enumerated().sorted { ($0.element.testsPassed ?? 0, -$0.offset) > ($1.element.testsPassed ?? 0, -$1.offset) }.map(\.element)
        return Array(sorted.prefix(layer.topK ?? sorted.count))
    }
}
