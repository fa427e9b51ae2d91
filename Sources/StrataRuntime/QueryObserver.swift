import Foundation

/// Hears of each query a runtime runs: asked once as it starts, in the
/// caller's task (where a trace context lives), and told once it has
/// finished, with every call in time. The OpenTelemetry export is an
/// observer; the calls it hears are the ones `--timeline` draws, so the
/// two always agree.
public protocol QueryObserver: Sendable {
    /// Called in the task that runs the query, before anything starts; what it returns comes back with `queryFinished`.
    func queryStarting(id: String) -> (any Sendable)?
    /// The query has finished (answered or not).
    func queryFinished(_ query: FinishedQuery, token: (any Sendable)?)
}

/// A query as an observer hears it once it has finished.
public struct FinishedQuery: Sendable {
    /// The query's id in the trace (`q1`, an item's id, a served request's id).
    public var id: String
    /// The pipeline's name.
    public var pipeline: String
    /// What was asked.
    public var query: Query
    /// When it started and ended.
    public var started: Date
    public var ended: Date
    /// Its answer, its layers and every call in time (`timeline`).
    public var result: RunResult
}
