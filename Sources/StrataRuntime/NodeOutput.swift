import StrataProviders

/// A pool of candidates, as a layer hands it on.
struct Pool: Sendable {
    var candidates: [Candidate]
    /// For a generating layer's pool: the position among the layer's calls of
    /// the call that made each candidate (failed calls leave gaps), so work
    /// that started on a call's reply can be matched to its candidate.
    var calls: [Int]?

    static let empty = Pool(candidates: [], calls: nil)
}

/// What one node of the graph produced.
enum NodeOutput: Sendable {
    /// A layer's pool.
    case pool(Pool)
    /// One generating call: its candidate, or why it was dropped.
    case generated(Result<Candidate, FailedCall>)
    /// One generating call with several completions (`n`): a candidate, or why it was dropped, per sample.
    case samples([Result<Candidate, FailedCall>])
    /// The critique call: one critique per candidate, or why there are none.
    case critiques(Result<[String], FailedCall>)
    /// A call whose reply a later step reads (rank).
    case reply(Result<String, ProviderError>)
    /// A verify reasoning call: the candidate it is about, and the reasoning (nil when the call failed).
    case reasoning(Candidate, String?)
    /// A verdict: true correct, false incorrect, nil unreadable or failed.
    case verdict(Bool?)
    /// The tests a unit-test layer grades by, or why they could not be written.
    case tests(Result<TestSet, FailedCall>)
    /// Tests one candidate passed.
    case passed(Int)
    /// Work not done: no candidate at this position, or no longer needed.
    case skipped

    var pool: Pool? {
        if case .pool(let pool) = self { return pool }
        return nil
    }

    /// What a generating call made, one result per sample.
    var generatedSamples: [Result<Candidate, FailedCall>] {
        switch self {
        case .generated(let result): [result]
        case .samples(let results): results
        default: []
        }
    }
}

/// Why a call produced nothing usable, in words for notes and failures.
struct FailedCall: Error, Sendable {
    var reason: String
}

/// The tests of a unit-test layer: code to execute, or statements a judge checks.
struct TestSet: Sendable {
    var executable: [String] = []
    var judged: [String] = []
    var count: Int { executable.count + judged.count }
}
