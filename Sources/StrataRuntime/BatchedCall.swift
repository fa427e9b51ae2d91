import Foundation
import StrataCache
import StrataChecker
import StrataProviders

extension LayerContext {
    /// Several samples of one entry in one request with `n`, so the prompt is
    /// sent and billed once. Each sample is still cached under its own sample
    /// index, exactly where a request for that sample alone would be, so runs
    /// with and without `n` share their cache. Samples found in the cache are
    /// not asked for; a server that returns fewer choices than asked (or empty
    /// ones) is asked again for the rest, and a failed request fails every
    /// sample it was for.
    func replies(_ operation: String, entry: CheckedEntry, messages: [ChatMessage], samples: Range<Int>,
                 candidate: Int?) async -> [Result<CallReply, ProviderError>] {
        let model = runtime.pipeline.models[entry.model]
        let cache = runtime.options.cache
        let single = samples.map { request(entry: entry, messages: messages, sample: $0) }
        let keys = zip(single, samples).map { cacheKey($0, entry: entry, sample: $1) }
        var results = [Result<CallReply, ProviderError>?](repeating: nil, count: samples.count)
        for slot in results.indices {
            guard cache.isEnabled, let cached = cache.lookup(keys[slot]), let text = cached.texts.first,
                  !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { continue }
            var event = TraceEvent(query: query, layer: layer.index, operation: operation, model: model.name,
                                   sample: samples.lowerBound + slot, seed: single[slot].seed, candidate: candidate)
            event.cacheHit = true
            event.inputTokens = cached.usage.inputTokens
            event.outputTokens = cached.usage.outputTokens
            count { $0.cacheHits += 1 }
            record(event, start: Date())
            results[slot] = .success(CallReply(text: text, truncated: CallReply.stoppedAtLimit(cached.finishReason)))
        }
        // Rounds that brought no new sample count against the malformed-reply retries.
        var fruitless = 0
        while true {
            let missing = results.indices.filter { results[$0] == nil }
            guard let first = missing.first else { break }
            var batch = single[first]
            batch.n = missing.count
            if fruitless > 0, let seed = batch.seed { batch.seed = seed + fruitless * Self.malformedRetryStride }
            let request = batch
            var event = TraceEvent(query: query, layer: layer.index, operation: operation, model: model.name,
                                   sample: samples.lowerBound + first, seed: request.seed, candidate: candidate)
            event.completions = missing.count
            let start = Date()
            let estimate = messages.reduce(0) { $0 + $1.content.utf8.count / 4 } + request.maxTokens * missing.count
            let reply: ProviderReply
            do {
                reply = try await runtime.scheduler.withPermit(model: entry.model, tokens: estimate) {
                    try await runtime.providers[entry.model].complete(request, onDelta: nil)
                }
            } catch {
                let failure: ProviderError = (error as? ProviderError) ?? (error is CancellationError ? .cancelled : .network(String(describing: error)))
                event.error = failure.description
                event.seconds = Date().timeIntervalSince(start)
                count {
                    $0.calls += 1
                    $0.failedCalls += 1
                }
                record(event, start: start)
                for slot in missing { results[slot] = .failure(failure) }
                break
            }
            let response = reply.response
            let usd = model.usd(input: response.usage.inputTokens, output: response.usage.outputTokens)
            event.inputTokens = response.usage.inputTokens
            event.outputTokens = response.usage.outputTokens
            event.usd = usd
            event.attempts = reply.record.attempts
            event.seconds = Date().timeIntervalSince(start)
            count {
                $0.calls += 1
                $0.retries += max(0, reply.record.attempts - 1)
                $0.inputTokens += response.usage.inputTokens
                $0.outputTokens += response.usage.outputTokens
                $0.usd += usd
            }
            record(event, start: start)
            // The request's usage is spread over its samples' cache entries: the prompt on the first.
            let usable = response.texts.indices.filter { !response.texts[$0].trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
            var filled = 0
            for (index, slot) in zip(usable, missing) {
                let text = response.texts[index]
                let reason = response.finishReason(of: index)
                if cache.isEnabled {
                    let output = response.usage.outputTokens / max(1, usable.count)
                    cache.store(ChatResponse(texts: [text], usage: Usage(inputTokens: filled == 0 ? response.usage.inputTokens : 0, outputTokens: output),
                                             finishReason: reason), for: keys[slot])
                }
                results[slot] = .success(CallReply(text: text, truncated: CallReply.stoppedAtLimit(reason)))
                filled += 1
            }
            if filled < missing.count {
                let range = "\(model.name)#\(samples.lowerBound + first)–\(samples.lowerBound + missing.last!)"
                note("\(operation) \(range): asked for \(missing.count) completions (n), got \(filled) usable; asking again for the other \(missing.count - filled)")
            }
            if filled == 0 {
                fruitless += 1
                if fruitless > runtime.options.malformedRetries || Task.isCancelled {
                    for slot in missing {
                        results[slot] = .failure(.malformedResponse("no usable completion after \(fruitless) request(s) with n = \(missing.count)"))
                    }
                }
            }
        }
        return results.map { $0 ?? .failure(.cancelled) }
    }
}
