import Foundation
import StrataRuntime

/// Serve's reading of a chat-completions request body — all the endpoint
/// does with one before a pipeline runs, by the same functions — for the
/// fuzzer (`Fuzz/ServeRequestFuzzer`) and for tools that check requests
/// offline.
package enum ServeRequestProbe {
    /// What the server makes of one request body.
    package struct Outcome: Sendable {
        /// The status answered before any run: 200 when the pipeline would run.
        package var status: Int
        /// The error's JSON body (OpenAI's shape), when the status is not 200.
        package var errorBody: Data?
        /// The request log's line (`--request-log`, with `--log-content`).
        package var logLine: Data?
        /// Each choice's query, when the pipeline would run.
        package var queries: [Query]
        /// `x-strata-ignored-params`, when fields were accepted and ignored.
        package var ignoredHeader: String?
    }

    /// Reads `body` as a server serving the models `served` (the first a
    /// pipeline, the rest its names) with `--max-n maxN` would.
    package static func decode(_ body: Data, served: [String], maxN: Int) -> Outcome {
        var log = RequestLog.Entry(id: "chatcmpl-probe", method: "POST", path: "/v1/chat/completions", status: 0, seconds: 0)
        var outcome = Outcome(status: 200, queries: [])
        func failed(_ error: APIError) -> Outcome {
            log.error = error.code ?? error.type
            log.status = Int(error.status.code)
            outcome.status = log.status
            outcome.errorBody = error.json
            outcome.logLine = RequestLog.line(log)
            return outcome
        }
        let request: ChatCompletionRequest
        do {
            request = try ChatCompletionRequest.parse(body, maxN: maxN)
        } catch {
            return failed(error)
        }
        log.describe(request, withContent: true)
        outcome.ignoredHeader = request.ignoredHeader
        guard served.contains(request.model) else { return failed(.unknownModel(request.model, served: served)) }
        log.status = 200
        outcome.logLine = RequestLog.line(log)
        outcome.queries = (0..<request.n).map { request.query(choice: $0) }
        return outcome
    }
}
