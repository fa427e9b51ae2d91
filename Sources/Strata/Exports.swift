// The public API of Strata: everything a Swift program needs to check,
// compile and run pipelines, re-exported from the stage modules.
@_exported import StrataCache
@_exported import StrataChecker
@_exported import StrataCompiler
@_exported import StrataDiagnostics
@_exported import StrataEval
@_exported import StrataImport
@_exported import StrataProviders
@_exported import StrataRuntime
@_exported import StrataSandbox
@_exported import StrataSearch
@_exported import StrataSpace
@_exported import StrataSyntax
@_exported import StrataYAML
