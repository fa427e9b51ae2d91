import StrataChecker
import StrataSyntax

/// How one kind of layer becomes nodes of the execution graph.
protocol LayerLowering: Sendable {
    /// The kinds of layer it lowers.
    var kinds: [LayerKind] { get }
    /// Adds the layer's nodes after `inputs` (the node that yields the previous
    /// pool, if any); `upstream` are the previous layer's calls, one per
    /// candidate, when per-candidate work may start on each as it arrives.
    /// Returns the node that yields the layer's pool.
    func lower(_ layer: CheckedLayer, inputs: [Int], upstream: [Int]?, into graph: inout GraphLowering) -> Int
}

/// Every layer kind's lowering, found by kind (as swift-format finds its
/// rules): a new kind of layer adds its type here.
enum LayerLowerings {
    static let all: [any LayerLowering] = [
        GeneratingLowering(), CritiqueLowering(), RankLowering(), VerifyLowering(), VoteLowering(), WriteTestsLowering(), UnitTestLowering(), RouteLowering(),
    ]

    private static let byKind: [LayerKind: any LayerLowering] = Dictionary(
        all.flatMap { lowering in lowering.kinds.map { ($0, lowering) } }, uniquingKeysWith: { first, _ in first })

    static func lowering(for kind: LayerKind) -> any LayerLowering {
        guard let lowering = byKind[kind] else { preconditionFailure("no lowering for layer kind \(kind): add its type to LayerLowerings.all") }
        return lowering
    }
}
