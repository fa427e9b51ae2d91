import Foundation
import StrataChecker
import StrataProviders
import StrataSandbox
import StrataSyntax

/// The six layer kinds, as semantics.md defines them.
enum LayerExecutors {
    /// ensemble and fuse: each entry's model, `samples` times, with distinct seeds.
    /// Fuse embeds the pool (with critiques); both return new candidates without critiques.
    static func generate(_ layer: CheckedLayer, pool: [Candidate], query: Query, context: LayerContext,
                         onDelta: (@Sendable (String) -> Void)?) async throws -> [Candidate] {
        let isFuse = layer.kind == .fuse
        let role: CallRole = isFuse ? .fuse : .generate
        let template = layer.prompts[role] ?? ""
        let messages: [ChatMessage]
        if isFuse {
            let prompt = PromptRenderer.render(template, [
                "query": PromptRenderer.queryText(query.messages),
                "candidates": PromptRenderer.candidatesText(pool, critiques: true),
                "n": String(pool.count),
                "length_control": layer.lengthControl ? PromptTemplate.lengthControlSentence : "",
            ])
            messages = [.system(prompt)] + query.messages
        } else {
            messages = [.system(template)] + query.messages
        }
        // Sample indices run per model across the layer's entries.
        var jobs: [(entry: CheckedEntry, sample: Int)] = []
        var nextSample: [Int: Int] = [:]
        for entry in layer.entries {
            for _ in 0..<entry.samples {
                let sample = nextSample[entry.model, default: 0]
                nextSample[entry.model] = sample + 1
                jobs.append((entry, sample))
            }
        }
        let streamOne = jobs.count == 1 ? onDelta : nil
        let results = await withTaskGroup(of: (Int, Result<CallReply, ProviderError>).self) { group in
            for (index, job) in jobs.enumerated() {
                group.addTask {
                    (index, await context.reply(role.rawValue, entry: job.entry, messages: messages, sample: job.sample,
                                                candidate: nil, onDelta: streamOne))
                }
            }
            var results = [Result<CallReply, ProviderError>?](repeating: nil, count: jobs.count)
            for await (index, result) in group { results[index] = result }
            return results
        }
        var candidates: [Candidate] = []
        var failures: [String] = []
        for (job, result) in zip(jobs, results) {
            let name = context.runtime.pipeline.models[job.entry.model].name
            switch result {
            case .success(let reply)?:
                candidates.append(Candidate(text: reply.text, origin: "\(name)#\(job.sample)", truncated: reply.truncated ? true : nil))
                if reply.truncated { context.note("\(name)#\(job.sample) stopped at max_tokens (\(job.entry.sampling.maxTokens))") }
            case .failure(let error)?:
                failures.append("\(name)#\(job.sample): \(error)")
                context.note("dropped \(name)#\(job.sample): \(error)")
            case nil: break
            }
        }
        if Task.isCancelled { throw CancellationError() }
        if candidates.isEmpty {
            let reason = "every call failed (\(failures.first ?? "no calls"))"
            candidates = try fallback(layer, pool: pool, reason: reason, context: context)
            if onDelta != nil, let first = candidates.first?.text { onDelta?(first) }
            return candidates
        }
        if onDelta != nil, streamOne == nil, let first = candidates.first?.text { onDelta?(first) }
        return candidates
    }

    /// What a layer whose every call failed hands on, by its `on_failure`
    /// policy; the fallback is recorded as a note the run result carries.
    static func fallback(_ layer: CheckedLayer, pool: [Candidate], reason: String, context: LayerContext) throws -> [Candidate] {
        // Critiques describe the candidates they came with; a generating layer's output never carries them.
        let stripped = layer.kind.makesCandidates ? pool.map { var candidate = $0; candidate.critique = nil; return candidate } : pool
        switch layer.onFailure {
        case .bestCandidate where !pool.isEmpty:
            context.fallback("\(reason); passing on the best candidate it was given ([1] \(pool[0].origin)), as on_failure: best-candidate says")
            return [stripped[0]]
        case .passThrough where !pool.isEmpty:
            context.fallback("\(reason); passing on the \(pool.count) candidate(s) it was given, as on_failure: pass-through says")
            return stripped
        default:
            throw QueryFailure(reason: reason)
        }
    }

    /// One call lists strengths and weaknesses of every candidate; the reply is
    /// split into exactly N critiques, retried with new seeds when it cannot be.
    static func critique(_ layer: CheckedLayer, pool: [Candidate], query: Query, context: LayerContext) async throws -> [Candidate] {
        let prompt = PromptRenderer.render(layer.prompts[.critique] ?? "", [
            "query": PromptRenderer.queryText(query.messages),
            "candidates": PromptRenderer.candidatesText(pool, critiques: false),
            "n": String(pool.count),
        ])
        let entry = layer.entries[0]
        let structured = layer.structuredOutput
        let message = structured
            ? prompt + "\nAnswer in JSON: {\"critiques\": [{\"strengths\": \"…\", \"weaknesses\": \"…\"}, …]}, one entry per response, in order."
            : prompt
        var lastProblem = "no reply"
        for attempt in 0...context.runtime.options.malformedRetries {
            switch await context.call(CallRole.critique.rawValue, entry: entry, messages: [.user(message)], sample: nil,
                                      candidate: nil, seedOffset: attempt * 1_000_003, schema: structured ? critiqueSchema : nil) {
            case .success(let text):
                if let critiques = ReplyParsers.critiques(text, count: pool.count) {
                    return zip(pool, critiques).map { candidate, critique in
                        var candidate = candidate
                        candidate.critique = critique
                        return candidate
                    }
                }
                lastProblem = "the reply does not hold exactly \(pool.count) critiques"
                context.note("critique attempt \(attempt + 1): \(lastProblem); retrying with a new seed")
            case .failure(let error):
                if error == .cancelled { throw CancellationError() }
                lastProblem = error.description
            }
        }
        if layer.onMalformed == .passThrough {
            context.note("critique failed (\(lastProblem)); passing the pool on without critiques, as the pipeline says")
            return pool
        }
        throw QueryFailure(reason: "critique failed: \(lastProblem)")
    }

    /// `{"type":"object","properties":{"<property>": <items>},"required":["<property>"],"additionalProperties":false}`
    static func objectSchema(_ name: String, property: String, _ items: String) -> ResponseSchema {
        ResponseSchema(name: name, json: #"{"type":"object","properties":{"# + "\"\(property)\":" + items
                       + #"},"required":["# + "\"\(property)\"" + #"],"additionalProperties":false}"#)
    }

    static let critiqueSchema = objectSchema("critiques", property: "critiques",
        #"{"type":"array","items":{"type":"object","properties":{"strengths":{"type":"string"},"weaknesses":{"type":"string"}},"required":["strengths","weaknesses"],"additionalProperties":false}}"#)
    static let verdictSchema = objectSchema("verdict", property: "verdict", #"{"type":"string","enum":["correct","incorrect"]}"#)
    static let testsSchema = objectSchema("tests", property: "tests", #"{"type":"array","items":{"type":"string"}}"#)
    static let passedSchema = objectSchema("passed", property: "passed", #"{"type":"array","items":{"type":"boolean"}}"#)

    static let rankingSchema = ResponseSchema(
        name: "ranking",
        json: #"{"type":"object","properties":{"ranking":{"type":"array","items":{"type":"integer"}}},"required":["ranking"],"additionalProperties":false}"#)

    /// One call asks for a permutation; a malformed one is repaired
    /// deterministically and the repair recorded; the top k are kept.
    static func rank(_ layer: CheckedLayer, pool: [Candidate], query: Query, context: LayerContext) async throws -> [Candidate] {
        let topK = min(layer.topK ?? 1, pool.count)
        if pool.count == 1 {
            context.note("one candidate: nothing to rank")
            return pool
        }
        var prompt = PromptRenderer.render(layer.prompts[.rank] ?? "", [
            "query": PromptRenderer.queryText(query.messages),
            "candidates": PromptRenderer.candidatesText(pool, critiques: true),
            "n": String(pool.count),
            "top_k": String(topK),
        ])
        if layer.structuredOutput { prompt += "\nAnswer in JSON: {\"ranking\": [ids, best first]}." }
        let result = await context.call(CallRole.rank.rawValue, entry: layer.entries[0], messages: [.user(prompt)], sample: nil,
                                        candidate: nil, schema: layer.structuredOutput ? rankingSchema : nil)
        var order = Array(pool.indices)
        switch result {
        case .success(let text):
            if let ranking = ReplyParsers.ranking(text, count: pool.count) {
                order = ranking.order
                if let repair = ranking.repair { context.note("ranking repaired: \(repair)") }
            } else {
                context.note("no ranking could be read from the reply; keeping the input order")
            }
        case .failure(let error):
            if error == .cancelled { throw CancellationError() }
            context.note("the rank call failed (\(error)); keeping the input order")
        }
        context.note("ranking: " + order.map { "[\($0 + 1)]" }.joined(separator: " > ") + ", keeping \(topK)")
        return order.prefix(topK).map { pool[$0] }
    }

    /// Per candidate a reasoning call, then a verdict call; keeps the correct
    /// ones. With `first_k` it stops once the first k correct candidates (in
    /// pool order) are known, which keeps the result deterministic.
    static func verify(_ layer: CheckedLayer, pool: [Candidate], query: Query, context: LayerContext) async throws -> [Candidate] {
        let entry = layer.entries[0]
        let queryText = PromptRenderer.queryText(query.messages)
        let retries = context.runtime.options.malformedRetries
        let firstK = layer.firstK
        let verdicts: [Bool?] = await withTaskGroup(of: (Int, Bool?).self) { group in
            for (index, candidate) in pool.enumerated() {
                group.addTask {
                    let reasoningPrompt = PromptRenderer.render(layer.prompts[.verifyReasoning] ?? "", ["query": queryText, "candidate": candidate.text])
                    guard case .success(let reasoning) = await context.call(CallRole.verifyReasoning.rawValue, entry: entry,
                                                                          messages: [.user(reasoningPrompt)], sample: nil, candidate: index) else {
                        return (index, nil)
                    }
                    var verdictPrompt = PromptRenderer.render(layer.prompts[.verifyVerdict] ?? "",
                                                              ["query": queryText, "candidate": candidate.text, "reasoning": reasoning])
                    if layer.structuredOutput { verdictPrompt += "\nAnswer in JSON: {\"verdict\": \"correct\"} or {\"verdict\": \"incorrect\"}." }
                    for attempt in 0...retries {
                        if case .success(let text) = await context.call(CallRole.verifyVerdict.rawValue, entry: entry, messages: [.user(verdictPrompt)],
                                                                       sample: nil, candidate: index, seedOffset: attempt * 1_000_003,
                                                                       schema: layer.structuredOutput ? verdictSchema : nil),
                           let verdict = ReplyParsers.verdict(text) {
                            return (index, verdict)
                        }
                    }
                    return (index, nil)
                }
            }
            var verdicts = [Bool?](repeating: nil, count: pool.count)
            var finished = [Bool](repeating: false, count: pool.count)
            for await (index, verdict) in group {
                verdicts[index] = verdict
                finished[index] = true
                if let k = firstK, Self.firstKnown(k, verdicts: verdicts, finished: finished) {
                    group.cancelAll()
                    break
                }
            }
            return verdicts
        }
        if Task.isCancelled { throw CancellationError() }
        var kept: [Candidate] = []
        for (index, verdict) in verdicts.enumerated() {
            switch verdict {
            case true?: kept.append(pool[index])
            case false?: context.note("[\(index + 1)] judged incorrect")
            case nil: context.note("[\(index + 1)] unverified: no readable verdict (counted as not correct)")
            }
            if let k = firstK, kept.count == k { break }
        }
        if kept.isEmpty {
            switch layer.onEmpty {
            case .keepAll?:
                context.note("no candidate was judged correct; keeping all \(pool.count) (on_empty: keep-all)")
                return pool
            case .fail?: throw QueryFailure(reason: "no candidate was judged correct (on_empty: fail)")
            case nil: context.note("no candidate was judged correct")
            }
        }
        return kept
    }

    /// Whether the first `k` correct candidates in pool order are known: every
    /// candidate before the k-th correct one has finished.
    static func firstKnown(_ k: Int, verdicts: [Bool?], finished: [Bool]) -> Bool {
        var correct = 0
        for index in verdicts.indices {
            guard finished[index] else { return false }
            if verdicts[index] == true {
                correct += 1
                if correct == k { return true }
            }
        }
        return false
    }

    /// Writes tests (or takes the dataset's), grades every candidate — by a
    /// judge model, or by running its code in the sandbox — drops those that
    /// pass none, sorts by tests passed (stable) and keeps the top k.
    static func unitTest(_ layer: CheckedLayer, pool: [Candidate], query: Query, context: LayerContext) async throws -> [Candidate] {
        let queryText = PromptRenderer.queryText(query.messages)
        let entry = layer.entries.first
        let execute = layer.mode == .execute
        var judgeTests: [String] = []
        var executableTests: [String] = []
        if layer.testSource == .dataset {
            guard let tests = query.tests else { throw QueryFailure(reason: "the query carries no tests (test_source: dataset)") }
            executableTests = [tests]
        } else if let entry {
            var prompt = PromptRenderer.render(layer.prompts[.writeTests] ?? "", ["query": queryText, "test_count": String(layer.tests)])
            // Executable tests are code; only natural-language tests come back as JSON.
            let structured = layer.structuredOutput && !execute
            if structured { prompt += "\nAnswer in JSON: {\"tests\": [\"…\", …]}." }
            switch await context.call(CallRole.writeTests.rawValue, entry: entry, messages: [.user(prompt)], sample: nil, candidate: nil,
                                      schema: structured ? testsSchema : nil) {
            case .success(let text):
                if execute {
                    executableTests = Array(ReplyParsers.assertions(text).prefix(layer.tests))
                } else {
                    judgeTests = Array(ReplyParsers.judgeTests(text).prefix(layer.tests))
                }
            case .failure(let error):
                if error == .cancelled { throw CancellationError() }
                return try fallback(layer, pool: pool, reason: "writing the tests failed: \(error)", context: context)
            }
        }
        let testCount = execute ? executableTests.count : judgeTests.count
        guard testCount > 0 else { throw QueryFailure(reason: "no tests could be read from the test writer's reply") }
        context.note("\(testCount) test\(testCount == 1 ? "" : "s")" + (execute ? " to execute" : ": " + judgeTests.joined(separator: " | ")))
        let testsText = judgeTests.enumerated().map { "[\($0.offset + 1)] \($0.element)" }.joined(separator: "\n")
        let limits = SandboxLimits(memoryMB: layer.memoryMB, wallSeconds: layer.timeoutSeconds)
        let runnable = executableTests
        let passed: [Int] = await withTaskGroup(of: (Int, Int).self) { group in
            for (index, candidate) in pool.enumerated() {
                group.addTask {
                    if execute {
                        // Model-written asserts run one by one; a dataset's test program runs whole (all or nothing).
                        let check = await Sandbox.check(solution: ReplyParsers.code(candidate.text), tests: runnable, limits: limits)
                        let count = check.passed.filter { $0 }.count
                        context.note("[\(index + 1)] passed \(count)/\(testCount) executed tests" + (check.result.timedOut ? " (timed out)" : ""))
                        return (index, count)
                    }
                    var prompt = PromptRenderer.render(layer.prompts[.judgeTests] ?? "", ["query": queryText, "candidate": candidate.text, "tests": testsText])
                    if layer.structuredOutput { prompt += "\nAnswer in JSON: {\"passed\": [true or false for each test, in order]}." }
                    guard let entry, case .success(let text) = await context.call(CallRole.judgeTests.rawValue, entry: entry,
                                                                                 messages: [.user(prompt)], sample: nil, candidate: index,
                                                                                 schema: layer.structuredOutput ? passedSchema : nil) else {
                        return (index, 0)
                    }
                    return (index, ReplyParsers.passedCount(text, tests: testCount))
                }
            }
            var passed = [Int](repeating: 0, count: pool.count)
            for await (index, count) in group { passed[index] = count }
            return passed
        }
        if Task.isCancelled { throw CancellationError() }
        let scored = pool.enumerated().map { index, candidate -> Candidate in
            var candidate = candidate
            candidate.testsPassed = passed[index]
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

extension LayerExecutors {
    /// Self-consistency: extracts every candidate's answer, keeps the
    /// candidates whose answer is most frequent (ties broken by pool order),
    /// and records the counts. No model calls.
    static func vote(_ layer: CheckedLayer, pool: [Candidate], context: LayerContext) -> [Candidate] {
        let kind = layer.extractor ?? .numeric
        let answers = pool.map { AnswerExtractor.extract(kind, from: $0.text) }
        var counts: [String: Int] = [:]
        var firstSeen: [String: Int] = [:]
        for (index, answer) in answers.enumerated() {
            guard let answer else { continue }
            counts[answer, default: 0] += 1
            if firstSeen[answer] == nil { firstSeen[answer] = index }
        }
        guard let winner = counts.keys.max(by: { (counts[$0]!, -firstSeen[$0]!) < (counts[$1]!, -firstSeen[$1]!) }) else {
            context.note("vote (\(kind.rawValue)): no candidate has a readable answer; keeping all \(pool.count)")
            return pool
        }
        let tally = counts.sorted { (counts[$0.key]!, -firstSeen[$0.key]!) > (counts[$1.key]!, -firstSeen[$1.key]!) }
            .map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        let unreadable = answers.filter { $0 == nil }.count
        context.note("vote (\(kind.rawValue)): \(tally)" + (unreadable > 0 ? "; \(unreadable) unreadable" : "") + " → \(winner)")
        return zip(pool, answers).filter { $0.1 == winner }.map(\.0)
    }
}
