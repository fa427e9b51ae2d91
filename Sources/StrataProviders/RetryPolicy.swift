import Foundation

/// Exponential backoff with full jitter, honouring `Retry-After`.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// The first retry's mean delay, in seconds; each retry doubles it.
    public var baseDelay: Double
    /// The longest delay, in seconds.
    public var maxDelay: Double
    /// The longest `Retry-After` obeyed; a server asking for more gets this.
    public var maxRetryAfter: Double

    /// A policy.
    public init(maxAttempts: Int = 4, baseDelay: Double = 0.5, maxDelay: Double = 20, maxRetryAfter: Double = 60) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// Four attempts, from half a second to twenty.
    public static let `default` = RetryPolicy()

    /// Seconds to wait before attempt `attempt + 1` (attempt counts from 0):
    /// uniform in [0, min(maxDelay, base · 2^attempt)], or the server's `Retry-After`.
    public func delay(afterAttempt attempt: Int, retryAfter: Double?, random: Double = Double.random(in: 0...1)) -> Double {
        if let retryAfter { return min(max(0, retryAfter), maxRetryAfter) }
        let ceiling = min(maxDelay, baseDelay * pow(2, Double(attempt)))
        return ceiling * random
    }

    /// Parses a `Retry-After` value: delay-seconds or an HTTP date.
    public static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Double? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }
}

/// Connect, read and total timeouts of one call.
public struct Timeouts: Sendable, Hashable {
    /// Seconds to connect.
    public var connect: Double
    /// Seconds between bytes of the reply.
    public var read: Double
    /// Seconds for the whole request.
    public var total: Double

    /// Timeouts.
    public init(connect: Double = 10, read: Double = 120, total: Double = 600) {
        self.connect = connect
        self.read = read
        self.total = total
    }
}
