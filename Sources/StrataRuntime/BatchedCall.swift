import Foundation
import StrataCache
import StrataChecker
import StrataCompiler
import StrataProviders

extension LayerContext {
    /// Several samples of one entry in one request with `n`, so the prompt is
    /// sent and billed once. Each sample is still cached under its own sample
    /// index, exactly where a request for that sample alone would be, so runs
    /// with and without `n` share their cache. Samples found in the cache are
    /// not asked for; a server that returns fewer choices than asked (or empty
    /// ones) is asked again for the rest, and a failed request fails every
    /// sample it was for.
    func replies(_ spec: CallSpec, messages: [ChatMessage], candidate: Int?) async -> [Result<CallReply, ProviderError>] {
        let operation = spec.template.rawValue
        let model = runtime.graph.models[spec.model]
        let firstSample = spec.sample ?? 0
        let samples = firstSample..<(firstSample + spec.completions)
        let single = samples.map { request(spec, messages: messages, sampleOffset: $0 - firstSample) }
        let keys = zip(single, samples).map { cacheKey($0, model: spec.model, sample: $1) }
        var results = await cached(operation, model: model, keys: keys, requests: single, samples: samples, candidate: candidate)
        // Rounds that brought no new sample count against the malformed-reply retries.
        var fruitless = 0
        while true {
            let missing = results.indices.filter { results[$0] == nil }
            guard let first = missing.first else { break }
            var batch = single[first]
            batch.n = missing.count
            if fruitless > 0, let seed = batch.seed { batch.seed = seed + fruitless * Self.malformedRetryStride }
            let request = batch
            var event = TraceEvent(
                query: query, layer: layer.index, operation: operation, model: model.name,
                sample: samples.lowerBound + first, seed: request.seed, candidate: candidate)
            event.completions = missing.count
            let response: ChatResponse
            switch await send(request, model: spec.model, messages: messages, event: &event).map(\.response) {
            case .success(let reply): response = reply
            case .failure(let failure):
                for slot in missing { results[slot] = .failure(failure) }
                return results.map { $0 ?? .failure(failure) }
            }
            let filled = await fill(&results, slots: missing, from: response, keys: keys)
            if filled < missing.count {
                let range = "\(model.name)#\(samples.lowerBound + first)–\(samples.lowerBound + missing.last!)"
                note(
                    "\(operation) \(range): asked for \(missing.count) completions (n), got \(filled) usable; asking again for the other \(missing.count - filled)"
                )
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

    /// The samples already in the cache, each recorded as a hit.
    private func cached(
        _ operation: String, model: ResolvedModel, keys: [String], requests: [ChatRequest], samples: Range<Int>,
        candidate: Int?
    ) async -> [Result<CallReply, ProviderError>?] {
        let cache = runtime.options.cache
        var results = [Result<CallReply, ProviderError>?](repeating: nil, count: samples.count)
        for slot in results.indices {
            guard cache.isEnabled, let cached = await cache.lookup(keys[slot]), let text = cached.texts.first,
                !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            else { continue }
            var event = TraceEvent(
                query: query, layer: layer.index, operation: operation, model: model.name,
                sample: samples.lowerBound + slot, seed: requests[slot].seed, candidate: candidate)
            recordCacheHit(cached, event: &event, start: Date())
            results[slot] = .success(CallReply(cached, text: text))
        }
        return results
    }

    /// Gives the response's usable completions to the `slots` in order, each
    /// cached under its own sample's key; returns how many were filled. The
    /// request's usage is spread over the entries: the prompt on the first.
    private func fill(_ results: inout [Result<CallReply, ProviderError>?], slots: [Int], from response: ChatResponse, keys: [String]) async -> Int {
        let cache = runtime.options.cache
        let usable = response.texts.indices.filter { !response.texts[$0].trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        var filled = 0
        for (index, slot) in zip(usable, slots) {
            let text = response.texts[index]
            let reason = response.finishReason(of: index)
            if cache.isEnabled {
                let output = response.usage.outputTokens / max(1, usable.count)
                await cache.store(
                    ChatResponse(
                        texts: [text],
                        usage: Usage(
                            inputTokens: filled == 0 ? response.usage.inputTokens : 0, outputTokens: output,
                            cachedInputTokens: filled == 0 ? response.usage.cachedInputTokens : 0),
                        finishReason: reason, confidences: response.confidences.map { _ in [response.confidence(of: index)] }), for: keys[slot])
            }
            results[slot] = .success(CallReply(response, text: text, index: index))
            filled += 1
        }
        return filled
    }
}
