import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A chat provider over HTTP: OpenAI Chat Completions (and compatible
/// servers) or Anthropic Messages, with timeouts, retries with backoff and
/// jitter, `Retry-After`, key rotation, and streaming.
public struct HTTPChatProvider: ChatProvider {
    let client: HTTPClient
    let baseURL: String
    /// The endpoint's port on this machine, when it is on this machine: probed before a call.
    let loopback: LoopbackListener?
    let wire: any WireFormat
    let keys: KeyRing
    let requiresKey: Bool
    /// How failed attempts are retried.
    public let retry: RetryPolicy
    /// How long a request may take.
    public let timeouts: Timeouts
    /// The clock the waits between retries sleep on.
    let clock: any Clock<Duration>

    /// A provider for an endpoint. `client` is shared by every provider of a runtime.
    public init(
        endpoint: Endpoint, client: HTTPClient, retry: RetryPolicy = .default, timeouts: Timeouts = Timeouts(),
        environment: [String: String] = ProcessInfo.processInfo.environment, clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.clock = clock
        self.client = client
        self.baseURL = endpoint.baseURL
        self.loopback = LoopbackListener(baseURL: endpoint.baseURL)
        self.wire = endpoint.api == .anthropic ? AnthropicWire() : OpenAIWire()
        self.keys = KeyRing(variables: endpoint.keyVariables, environment: environment)
        self.requiresKey = endpoint.requiresKey
        self.retry = retry
        self.timeouts = timeouts
    }

    /// Makes the shared HTTP client with the connect and read timeouts.
    public static func makeClient(timeouts: Timeouts = Timeouts()) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .milliseconds(Int64(timeouts.connect * 1000)), read: .milliseconds(Int64(timeouts.read * 1000)))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Sends the request, retrying by `retry`; `onDelta` hears streamed text as it arrives.
    public func complete(_ request: ChatRequest, onDelta: (@Sendable (String) -> Void)?) async throws -> ProviderReply {
        var record = CallRecord()
        if requiresKey, keys.isEmpty { throw ProviderError.missingKey(variables: keys.variables) }
        var attempt = 0
        let listener = loopback
        while true {
            try Task.checkCancellation()
            record.attempts += 1
            let key = keys.currentKey()
            var retryAfter: Double?
            // On this machine a refused connection is said at once; the HTTP client would retry it until the connect timeout.
            if let listener, !(await listener.isListening()) {
                record.failures.append(ProviderError.unreachable(host: listener.hostAndPort).description)
                throw ProviderError.unreachable(host: listener.hostAndPort)
            }
            do {
                let response = try await send(request, key: key, onDelta: onDelta, retryAfter: &retryAfter)
                listener?.answered()
                return ProviderReply(response: response, record: record)
            } catch let error as ProviderError {
                let redacted = redact(error)
                record.failures.append(redacted.description)
                attempt += 1
                // Quota, rate limit or a revoked key: the next key may work at once (each key is tried once).
                if Self.rotatesKey(error), let key, record.keyRotations < keys.count - 1, keys.rotate(after: key) {
                    record.keyRotations += 1
                    continue
                }
                guard redacted.isRetryable, attempt < retry.maxAttempts else { throw redacted }
                let wait = retry.delay(afterAttempt: attempt - 1, retryAfter: retryAfter)
                try await clock.sleep(for: .seconds(wait))
            } catch is CancellationError {
                throw ProviderError.cancelled
            }
        }
    }

    private func redact(_ error: ProviderError) -> ProviderError {
        switch error {
        case .http(let status, let message): .http(status: status, message: keys.redact(message))
        case .network(let message): .network(keys.redact(message))
        case .timeout(let message): .timeout(keys.redact(message))
        case .malformedResponse(let message): .malformedResponse(keys.redact(message))
        default: error
        }
    }

    /// One HTTP attempt.
    private func send(_ request: ChatRequest, key: String?, onDelta: (@Sendable (String) -> Void)?, retryAfter: inout Double?) async throws -> ChatResponse {
        let stream = onDelta != nil
        var http = HTTPClientRequest(url: baseURL + wire.path)
        http.method = .POST
        for (name, value) in wire.headers(key: key) { http.headers.add(name: name, value: value) }
        if stream { http.headers.add(name: "Accept", value: "text/event-stream") }
        http.body = .bytes(ByteBuffer(bytes: Array(try wire.body(request, stream: stream))))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(http, timeout: .milliseconds(Int64(timeouts.total * 1000)))
        } catch {
            if Self.isRefused(error), let components = URLComponents(string: baseURL), let host = components.host {
                let port = components.port ?? (components.scheme == "https" ? 443 : 80)
                throw ProviderError.unreachable(host: "\(host):\(port)")
            }
            throw Self.classify(error)
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            retryAfter = RetryPolicy.parseRetryAfter(response.headers.first(name: "retry-after"))
            let body = (try? await response.body.collect(upTo: 64 * 1024)).map { String(buffer: $0) } ?? ""
            throw ProviderError.http(status: Int(response.status.code), message: Self.errorMessage(body) ?? response.status.reasonPhrase)
        }
        let isEventStream = response.headers.first(name: "content-type")?.contains("text/event-stream") ?? false
        do {
            if stream, isEventStream, let onDelta {
                var parser = SSEParser()
                var reply = StreamedReply()
                for try await chunk in response.body {
                    for event in parser.feed(chunk.readableBytesView) {
                        if let delta = try wire.apply(event, to: &reply) { onDelta(delta) }
                    }
                }
                for event in parser.finish() {
                    if let delta = try wire.apply(event, to: &reply) { onDelta(delta) }
                }
                guard reply.done || reply.finishReason != nil else {
                    throw ProviderError.malformedResponse("the stream ended before the reply was complete")
                }
                if reply.text.allSatisfy(\.isWhitespace) { throw ProviderError.emptyContent }
                return reply.response
            }
            let body = try await response.body.collect(upTo: 32 * 1024 * 1024)
            let decoded = try wire.decode(Data(body.readableBytesView))
            if let onDelta { decoded.texts.first.map(onDelta) }
            return decoded
        } catch let error as ProviderError {
            throw error
        } catch {
            throw Self.classify(error)
        }
    }

    static func rotatesKey(_ error: ProviderError) -> Bool {
        if case .http(let status, _) = error { return [401, 402, 403, 429].contains(status) }
        return false
    }

    /// A refused connection: the host answered that nothing listens on the port.
    static func isRefused(_ error: Error) -> Bool {
        let text = String(describing: error).lowercased()
        return text.contains("connection refused") || text.contains("connectionrefused") || text.contains("econnrefused")
            || text.contains("errno: 111") || text.contains("errnocode: 111")
    }

    static func classify(_ error: Error) -> ProviderError {
        if error is CancellationError { return .cancelled }
        if let error = error as? HTTPClientError {
            switch error {
            case .cancelled: return .cancelled
            case .connectTimeout, .readTimeout, .deadlineExceeded, .writeTimeout: return .timeout(String(describing: error))
            default: return .network(String(describing: error))
            }
        }
        let text = String(describing: error)
        return text.lowercased().contains("timeout") ? .timeout(text) : .network(text)
    }

    /// The `error.message` of an OpenAI or Anthropic error body, if there is one.
    static func errorMessage(_ body: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            return body.isEmpty ? nil : String(body.prefix(200))
        }
        if let error = object["error"] as? [String: Any], let message = error["message"] as? String { return message }
        if let message = object["message"] as? String { return message }
        return String(body.prefix(200))
    }
}
