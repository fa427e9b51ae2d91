/// A reply together with what it took to get it.
public struct ProviderReply: Sendable, Hashable, Codable {
    /// The reply.
    public var response: ChatResponse
    /// What getting it took (attempts, key rotations, failures).
    public var record: CallRecord

    /// A reply.
    public init(response: ChatResponse, record: CallRecord = CallRecord()) {
        self.response = response
        self.record = record
    }
}

/// Something that answers chat requests: the built-in OpenAI and Anthropic
/// clients, or your own (register it with the runtime under a model name).
public protocol ChatProvider: Sendable {
    /// Answers `request`. When `onDelta` is given and the provider can stream,
    /// it is called with each piece of text as it arrives.
    func complete(_ request: ChatRequest, onDelta: (@Sendable (String) -> Void)?) async throws -> ProviderReply
}
