import StrataProviders

/// How a layer asks for a structured reply: the JSON schema sent with the
/// request (where the model takes one) and the sentence added to the prompt
/// saying the same in words. Each layer keeps its own beside its prompt.
struct ReplyFormat: Sendable {
    let schema: ResponseSchema
    /// Appended to the prompt when the reply is structured.
    let instruction: String

    /// A schema for `{"<property>": <items>}`, nothing else allowed.
    static func object(_ name: String, property: String, _ items: String, instruction: String) -> ReplyFormat {
        ReplyFormat(
            schema: ResponseSchema(
                name: name,
                json: #"{"type":"object","properties":{"# + "\"\(property)\":" + items
                    + #"},"required":["# + "\"\(property)\"" + #"],"additionalProperties":false}"#),
            instruction: instruction)
    }
}
