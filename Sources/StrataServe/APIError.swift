import Foundation
import HTTPTypes
import Hummingbird
import StrataDiagnostics
import StrataRuntime

/// An error in OpenAI's shape, `{"error":{"message","type","param","code"}}`,
/// with the status code the official clients map to an exception and decide
/// retries by (408, 409, 429 and 5xx are retried; `x-should-retry` overrides).
struct APIError: HTTPResponseError, Sendable {
    var status: HTTPResponse.Status
    var type: String
    var code: String?
    var param: String?
    var message: String
    var headers: [(String, String)] = []

    static func invalid(_ message: String, param: String?, code: String = "invalid_value") -> APIError {
        APIError(status: .badRequest, type: "invalid_request_error", code: code, param: param, message: message)
    }

    static func unsupported(_ parameter: String, _ why: String) -> APIError {
        invalid("'\(parameter)' is not supported: \(why)", param: parameter, code: "unsupported_parameter")
    }

    static let unauthorized = APIError(
        status: .unauthorized, type: "invalid_request_error", code: "invalid_api_key", param: nil,
        message: "Missing or invalid API key: send 'Authorization: Bearer <key>' with one of the keys the server was started with.")

    static func notFound(path: String) -> APIError {
        APIError(status: .notFound, type: "invalid_request_error", code: "not_found", param: nil, message: "No route \(path).")
    }

    /// 404 for a model that is not served, with the nearest of the `served` names.
    static func unknownModel(_ name: String, served: [String]) -> APIError {
        let hint = Suggestions.closest(to: name, in: served).map { " Did you mean '\($0)'?" } ?? ""
        return APIError(
            status: .notFound, type: "invalid_request_error", code: "model_not_found", param: "model",
            message: "The model '\(name)' does not exist on this server.\(hint) Served: \(served.joined(separator: ", ")).")
    }

    static func tooLarge(limit: Int) -> APIError {
        APIError(
            status: .contentTooLarge, type: "invalid_request_error", code: "request_too_large", param: nil,
            message: "The request body is larger than \(limit) bytes (the server's --max-body).")
    }

    static func busy(retryAfter seconds: Double) -> APIError {
        APIError(
            status: .tooManyRequests, type: "rate_limit_error", code: "server_busy", param: nil,
            message: "The server is running as many requests as it is allowed and its queue is full; retry shortly.",
            headers: retryAfter(seconds))
    }

    static let shuttingDown = APIError(
        status: .serviceUnavailable, type: "unavailable_error", code: "shutting_down", param: nil,
        message: "The server is shutting down.", headers: [("retry-after", "1")])

    static func timeout(after seconds: Double) -> APIError {
        APIError(
            status: .gatewayTimeout, type: "server_error", code: "timeout", param: nil,
            message: "The pipeline did not finish within \(Int(seconds)) s; its calls in flight were cancelled.")
    }

    /// A query the pipeline could not answer, by why it failed.
    static func failed(_ reason: String, kind: FailureKind?, model: String) -> APIError {
        let message = "Pipeline '\(model)' produced no answer: \(reason)"
        switch kind {
        case .rateLimited:
            return APIError(
                status: .tooManyRequests, type: "rate_limit_error", code: "upstream_rate_limited", param: nil, message: message,
                headers: retryAfter(1))
        case .upstream:
            return APIError(status: .badGateway, type: "server_error", code: "upstream_error", param: nil, message: message)
        case .timedOut:
            return APIError(status: .gatewayTimeout, type: "server_error", code: "timeout", param: nil, message: message)
        case .deterministic, .cancelled, nil:
            // The same request fails the same way: tell clients not to retry.
            return APIError(
                status: .internalServerError, type: "server_error", code: "pipeline_failed", param: nil, message: message,
                headers: [("x-should-retry", "false")])
        }
    }

    static func retryAfter(_ seconds: Double) -> [(String, String)] {
        [("retry-after", String(max(1, Int(seconds.rounded(.up))))), ("retry-after-ms", String(Int(seconds * 1000)))]
    }

    /// The JSON body: all four keys, `param` and `code` null when absent.
    var body: [String: Any] {
        ["error": ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()] as [String: Any]]
    }

    var json: Data { (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data() }

    /// The answer: the status, OpenAI's error body, the error's headers and the request's id.
    func response(requestID: String) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.requestID] = requestID
        for (name, value) in headers { if let name = HTTPField.Name(name) { fields[name] = value } }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(data: json)))
    }

    /// Thrown by a handler: answered by the router with the id the request's context carries.
    func response(from request: Request, context: some RequestContext) throws -> Response {
        response(requestID: (context as? ServeRequestContext)?.requestID ?? "req_\(ServerState.randomID())")
    }

    /// The same error with what the request's runs cost, in the headers a whole answer carries.
    func costing(_ headers: HTTPFields) -> APIError {
        var error = self
        error.headers += headers.map { ($0.name.rawName, $0.value) }
        return error
    }
}

/// The headers Strata adds to OpenAI's, and the one it reads from the official clients.
extension HTTPField.Name {
    static let strataIgnoredParams = HTTPField.Name("x-strata-ignored-params")!
    static let clientRetryCount = HTTPField.Name("x-stainless-retry-count")!
    static let requestID = HTTPField.Name("x-request-id")!
    static let strataCalls = HTTPField.Name("x-strata-calls")!
    static let strataCacheHits = HTTPField.Name("x-strata-cache-hits")!
    static let strataUSD = HTTPField.Name("x-strata-usd")!
    static let strataDurationMS = HTTPField.Name("x-strata-duration-ms")!
    static let strataStreamMode = HTTPField.Name("x-strata-stream-mode")!
}
