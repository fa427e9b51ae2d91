import Synchronization

/// OpenAI's automatic prompt caching, as the test server plays it: a prompt
/// counts one token per four bytes of its messages, and the part of it that
/// begins as an earlier prompt began is cached once that shared part reaches
/// 1,024 tokens, in steps of 128 (OpenAI's published rule). What reaches the
/// client is the usage OpenAI reports: `prompt_tokens_details.cached_tokens`.
package final class PromptCacheSimulation: Sendable {
    package static let minimumTokens = 1024
    package static let step = 128
    package static let bytesPerToken = 4
    private let seen = Mutex<[[UInt8]]>([])

    package init() {}

    /// The prompt's tokens and how many of them were cached; remembers the prompt for the next.
    package func usage(of prompt: [UInt8]) -> (input: Int, cached: Int) {
        let longest = seen.withLock { seen in
            defer { seen.append(prompt) }
            return seen.map { Self.commonPrefix($0, prompt) }.max() ?? 0
        }
        let input = max(1, prompt.count / Self.bytesPerToken)
        let shared = longest / Self.bytesPerToken
        let cached = shared >= Self.minimumTokens ? shared / Self.step * Self.step : 0
        return (input, min(cached, input))
    }

    static func commonPrefix(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var count = 0
        while count < a.count, count < b.count, a[count] == b[count] { count += 1 }
        return count
    }
}
