// The public API of Strata: everything a Swift program needs to check and
// compile pipelines, re-exported from the stage modules.
@_exported import StrataChecker
@_exported import StrataCompiler
@_exported import StrataDiagnostics
@_exported import StrataSyntax
@_exported import StrataYAML
