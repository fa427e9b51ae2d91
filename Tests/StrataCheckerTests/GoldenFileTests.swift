import Foundation
import Strata
import StrataTestSupport
import Testing

/// Whole files of mistakes, and every word `strata check` says about them: the
/// rendered diagnostics of `Golden/NAME.yaml` are pinned in `Golden/NAME.expected`
/// (the marker tests pin codes and positions; these pin messages, notes and
/// fix-its too). `STRATA_UPDATE_GOLDEN=1 swift test --filter GoldenFileTests`
/// rewrites the expected files after a deliberate change of wording.
@Suite struct GoldenFileTests {
    static let folder = packageRoot.appendingPathComponent("Tests/StrataCheckerTests/Golden")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test func thereAreGoldenFiles() {
        #expect(Self.cases.count >= 3)
    }

    @Test(arguments: cases)
    func diagnosticsReadExactlyAsPinned(_ file: String) throws {
        let source = try String(contentsOf: Self.folder.appendingPathComponent(file), encoding: .utf8)
        let result = PipelineCompiler().compile(source: source, path: "Golden/\(file)")
        let rendered = DiagnosticRenderer(sources: result.sources).render(result.diagnostics)
        let expectedURL = Self.folder.appendingPathComponent(file.replacingOccurrences(of: ".yaml", with: ".expected"))
        if ProcessInfo.processInfo.environment["STRATA_UPDATE_GOLDEN"] == "1" {
            try rendered.write(to: expectedURL, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        #expect(rendered == expected, "Golden/\(file) renders differently; if the new words are right, rerun with STRATA_UPDATE_GOLDEN=1")
    }
}
