import Foundation
import StrataProviders
import StrataRuntime
import Tracing

/// What a request's pipeline runs report while they go, in arrival order.
enum RunEvent: Sendable {
    /// Text of choice `index`'s answer as it is written.
    case delta(index: Int, text: String)
    /// A layer of choice `index` finished: its report (for keep-alive comments).
    case layer(index: Int, report: LayerReport, of: Int)
    /// Choice `index` finished, answered or not.
    case finished(index: Int, result: RunResult)
    /// The request ran out of time: every run is cancelled.
    case timedOut
    /// Time for a keep-alive comment.
    case tick
}

/// The `n` runs of one request: choice `i` runs the pipeline with its own
/// seed, all at once; a timer cancels them all at the request's timeout.
struct CompletionRun: Sendable {
    var pipeline: ServedPipeline
    var request: ChatCompletionRequest
    /// Names the runs in the trace: the request's id, with the choice when there are several.
    var requestID: String
    var timeout: Double
    /// Seconds between ticks (streams only).
    var tickInterval: Double?
    /// The clock the timeout and the ticks are measured on.
    var clock: any Clock<Duration>
    /// The request's span, when the server traces: its runs' spans are its children.
    var traceContext: InstrumentationContext?

    /// Runs every choice, sending events to `events` (which ends when all choices have finished or the request timed out).
    func start(_ events: AsyncStream<RunEvent>.Continuation) async {
        let layerCount = pipeline.runtime.graph.layers.count
        await withTaskGroup(of: Bool.self) { group in
            for index in 0..<request.n {
                group.addTask { [traceContext] in
                    let result = await InstrumentationContext.withValue(traceContext) {
                        await pipeline.runtime.run(
                            request.query(choice: index), id: request.n > 1 ? "\(requestID)#\(index)" : requestID,
                            onDelta: { events.yield(.delta(index: index, text: $0)) },
                            onLayer: { events.yield(.layer(index: index, report: $0, of: layerCount)) })
                    }
                    events.yield(.finished(index: index, result: result))
                    return true
                }
            }
            let deadline = Deadline(seconds: timeout, on: clock)
            group.addTask {
                try? await deadline.wait()
                if !Task.isCancelled { events.yield(.timedOut) }
                return false
            }
            if let tickInterval {
                group.addTask { [clock] in
                    while !Task.isCancelled {
                        try? await clock.sleep(for: .seconds(tickInterval))
                        if !Task.isCancelled { events.yield(.tick) }
                    }
                    return false
                }
            }
            var finished = 0
            while let isRun = await group.next() {
                if isRun { finished += 1 } else if !Task.isCancelled { group.cancelAll() }
                if finished == request.n { group.cancelAll() }
            }
        }
        events.finish()
    }

    /// Runs every choice to the end (non-streamed): the results in choice order, and whether the
    /// request timed out (its runs were then cancelled, and their results say so). No events: the
    /// choices and the deadline race in one group, without the stream a streamed answer needs.
    func results() async -> (results: [RunResult], timedOut: Bool) {
        await withTaskGroup(of: (index: Int, result: RunResult)?.self) { group in
            for index in 0..<request.n {
                group.addTask { [traceContext] in
                    let id = request.n > 1 ? "\(requestID)#\(index)" : requestID
                    return (index, await InstrumentationContext.withValue(traceContext) { await pipeline.runtime.run(request.query(choice: index), id: id) })
                }
            }
            let deadline = Deadline(seconds: timeout, on: clock)
            group.addTask {
                try? await deadline.wait()
                return nil
            }
            var results = [RunResult?](repeating: nil, count: request.n)
            var finished = 0, timedOut = false
            while let next = await group.next() {
                guard let (index, result) = next else {
                    // The deadline passed, or the request was cancelled (its runs are then cancelled with it).
                    if !Task.isCancelled, finished < request.n {
                        timedOut = true
                        group.cancelAll()
                    }
                    continue
                }
                results[index] = result
                finished += 1
                if finished == request.n { group.cancelAll() }
            }
            return (results.compactMap { $0 }, timedOut)
        }
    }
}

extension RunResult {
    /// OpenAI's finish reason: `length` when the answer was cut at `max_tokens`.
    var finishReason: String { layers.last?.candidates.first?.truncated == true ? "length" : "stop" }
}

extension Sequence<RunResult> {
    var totalUsage: RunUsage { reduce(RunUsage()) { $0 + $1.usage } }
}
