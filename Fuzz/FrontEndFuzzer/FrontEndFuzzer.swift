// A coverage-guided fuzz target over the whole front end, as `strata check`
// runs it: bytes → UTF-8 check → YAML → pipeline syntax (includes resolved) →
// checker → graph, cost and budget → rendered diagnostics; and, for search
// files, the search-space reader, template expansion and every configuration
// compiled. Any trap, runaway recursion or slow input is a bug.
//
// Runs under libFuzzer or replays saved inputs (FuzzDriver, scripts/fuzz).
import Foundation
import FuzzDriver
import Strata

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FrontEnd.exercise(FuzzDriver.bytes(data, size))
    return 0
}

enum FrontEnd {
    /// The input is served as the file `input.yaml` in a directory of its
    /// own; includes it names resolve as they would for a real file there.
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-fuzz-\(getpid())").path
    static let path = directory + "/input.yaml"

    static func exercise(_ bytes: [UInt8]) {
        let mainPath = path
        var loader = SourceLoader(includeRoots: [])
        loader.readFile = { requested in
            guard requested == mainPath else { return try SourceLoader.readTextFile(requested) }
            return try InvalidUTF8.decode(bytes)
        }
        var compiler = PipelineCompiler(loader: loader)
        // A few configurations cover the per-configuration path; hundreds would only slow the fuzzer.
        compiler.feasibilityProbeLimit = 8
        let result = compiler.check(path: mainPath)
        _ = DiagnosticRenderer(sources: result.sources).render(result.diagnostics)
        _ = DiagnosticRenderer.json(result.diagnostics)
        if let compiled = result.compiled ?? result.estimate {
            for format in EmitFormat.allCases { _ = compiled.render(format) }
        }
    }
}

@main
enum FrontEndFuzzer {
    static func main() {
        try? FileManager.default.createDirectory(atPath: FrontEnd.directory, withIntermediateDirectories: true)
        // libFuzzer and the replay both end the process: the directory goes at exit.
        atexit { try? FileManager.default.removeItem(atPath: FrontEnd.directory) }
        FuzzDriver.main("FrontEndFuzzer", oneInput: fuzzOneInput, exercise: FrontEnd.exercise)
    }
}
