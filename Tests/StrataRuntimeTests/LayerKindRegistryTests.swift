import Testing

@testable import StrataChecker
@testable import StrataCompiler
@testable import StrataRuntime
@testable import StrataSyntax

/// A layer kind is one type per stage, found through each stage's registry:
/// a kind or an operation that a stage does not know would stop a query at
/// run time, so it is caught here instead.
@Suite struct LayerKindRegistryTests {
    @Test(arguments: LayerKind.allCases)
    func everyLayerKindIsKnownToTheCheckerAndTheCompiler(_ kind: LayerKind) {
        #expect(LayerTypings.all.filter { $0.kinds.contains(kind) }.count == 1, "the checker has no typing (or two) for \(kind)")
        #expect(LayerLowerings.all.filter { $0.kinds.contains(kind) }.count == 1, "the compiler has no lowering (or two) for \(kind)")
    }

    @Test(arguments: NodeOperation.allCases)
    func everyNodeOperationHasOneExecutor(_ operation: NodeOperation) {
        #expect(NodeExecutors.all.filter { $0.operations.contains(operation) }.count == 1, "the runtime has no executor (or two) for \(operation)")
    }
}
