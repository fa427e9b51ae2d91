// A coverage-guided fuzz target over `strata serve`'s reading of a
// chat-completions request body: JSON → the request's fields, checked →
// the error answered (OpenAI's shape) or the model looked up (with its
// nearest-name hint) → the request log's line and each choice's query.
// Beyond traps and slow inputs, it stops on an answer a client could not
// read: an error body that is not `{"error": {"message": …}}`, a missing
// log line, a status outside 4xx for a refused request, a query that does
// not end with the user's message, or an oversized header.
// Runs under libFuzzer or replays saved inputs (FuzzDriver, scripts/fuzz).
import Foundation
import FuzzDriver
import StrataServe

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ServeRequestRun.exercise(FuzzDriver.bytes(data, size))
    return 0
}

enum ServeRequestRun {
    static let served = ["default", "vote-5", "local-fuse"]
    static let maxN = 4

    static func exercise(_ bytes: [UInt8]) {
        let outcome = ServeRequestProbe.decode(Data(bytes), served: served, maxN: maxN)
        FuzzDriver.require(outcome.logLine.map(isJSONObject) == true, "no readable request-log line")
        if let header = outcome.ignoredHeader { FuzzDriver.require(header.utf8.count <= 1100, "an ignored-params header of \(header.utf8.count) bytes") }
        if outcome.status == 200 {
            FuzzDriver.require((1...maxN).contains(outcome.queries.count), "\(outcome.queries.count) choices")
            for query in outcome.queries { FuzzDriver.require(query.messages.last?.role == .user, "a query not ending with the user's message") }
            return
        }
        FuzzDriver.require((400..<500).contains(outcome.status), "status \(outcome.status) for a refused request")
        let body = outcome.errorBody.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        let error = body?["error"] as? [String: Any]
        FuzzDriver.require(error?["message"] is String && error?["type"] is String, "an error body a client cannot read")
    }

    static func isJSONObject(_ line: Data) -> Bool { (try? JSONSerialization.jsonObject(with: line)) is [String: Any] }
}

@main
enum ServeRequestFuzzer {
    static func main() {
        FuzzDriver.main("ServeRequestFuzzer", oneInput: fuzzOneInput, exercise: ServeRequestRun.exercise)
    }
}
