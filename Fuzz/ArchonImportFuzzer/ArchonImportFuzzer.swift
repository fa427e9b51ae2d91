// A coverage-guided fuzz target over `strata import archon`: bytes → UTF-8
// check → JSON (read by the YAML front end) → Archon reader → translator →
// pipeline writer → the written YAML checked and compiled → diagnostics
// mapped back to the JSON and rendered, and the pipeline in every --emit
// format. Any trap, runaway recursion or slow input is a bug, and so is an
// import that reports no error yet gives no checked pipeline.
// Runs under libFuzzer or replays saved inputs (FuzzDriver, scripts/fuzz).
import Foundation
import FuzzDriver
import Strata

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ArchonImportRun.exercise(FuzzDriver.bytes(data, size))
    return 0
}

enum ArchonImportRun {
    static func exercise(_ bytes: [UInt8]) {
        // `importFile` refuses text that is not UTF-8 before reading it; the rest is `importText`'s.
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        // Odd lengths also take the key-rotation and local-server paths of the translator and writer.
        let options =
            bytes.count % 2 == 0 ? ArchonImportOptions() : ArchonImportOptions(keyRotation: 3, baseURL: "http://127.0.0.1:8080/v1")
        let imported = ArchonImporter.importText(text, path: "/fuzz/archon-config.json", options: options)
        _ = DiagnosticRenderer(sources: imported.sources).render(imported.diagnostics)
        _ = DiagnosticRenderer.json(imported.diagnostics)
        FuzzDriver.require(
            imported.hasErrors || (imported.yaml != nil && imported.compiled != nil),
            "the import reported no error but gave no checked pipeline")
        FuzzDriver.require(!imported.hasErrors || imported.compiled == nil, "the import reported an error and gave a pipeline")
        if let compiled = imported.compiled {
            for format in EmitFormat.allCases { _ = compiled.render(format) }
        }
    }
}

@main
enum ArchonImportFuzzer {
    static func main() {
        FuzzDriver.main("ArchonImportFuzzer", oneInput: fuzzOneInput, exercise: ArchonImportRun.exercise)
    }
}
