import Foundation
import Strata
import StrataTestSupport
import Testing

/// The 190 public Archon configurations: each imports to a pipeline that
/// checks with zero errors, or is refused with errors naming the construct
/// and its JSON path; what happens to each is pinned in `Tests/Fixtures/archon-configs/expected.tsv`
/// (`STRATA_UPDATE_GOLDEN=1` rewrites it).
@Suite struct ArchonCorpusTests {
    static let root = packageRoot.appendingPathComponent("Tests/Fixtures/archon-configs")

    static let files: [String] = {
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        return ((enumerator?.allObjects as? [String]) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    }()

    /// One line of the pinned table: outcome and codes.
    static func line(_ file: String) -> String {
        let imported = ArchonImporter.importFile(path: root.appendingPathComponent(file).path)
        return [file, outcome(imported), codes(imported)].joined(separator: "\t")
    }

    static func outcome(_ imported: ArchonImport) -> String { imported.hasErrors ? "refused" : "imported" }

    static func codes(_ imported: ArchonImport) -> String {
        Set(imported.diagnostics.map(\.code.rawValue)).sorted().joined(separator: ",")
    }

    @Test func everyConfigurationHasItsPinnedOutcome() throws {
        #expect(Self.files.count == 190)
        let expectedPath = Self.root.appendingPathComponent("expected.tsv").path
        let header = "file\toutcome\tcodes"
        let lines = [header] + Self.files.map(Self.line)
        let actual = lines.joined(separator: "\n") + "\n"
        if ProcessInfo.processInfo.environment["STRATA_UPDATE_GOLDEN"] != nil {
            try actual.write(toFile: expectedPath, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOfFile: expectedPath, encoding: .utf8)
        for (want, got) in zip(expected.split(separator: "\n"), actual.split(separator: "\n")) where want != got {
            Issue.record("pinned: \(want)\nnow:    \(got)")
        }
        #expect(expected.split(separator: "\n").count == lines.count)
    }

    @Test func refusalsNameTheConstructAndImportsCheckCleanAndAreStable() throws {
        for file in Self.files {
            let path = Self.root.appendingPathComponent(file).path
            for options in [ArchonImportOptions(), ArchonImportOptions(keyRotation: 3)] {
                let imported = ArchonImporter.importFile(path: path, options: options)
                if imported.hasErrors {
                    for error in imported.diagnostics where error.severity == .error {
                        let parsedJSON = error.code != .archonInvalidJSON
                        #expect(!parsedJSON || error.message.contains("$."), "\(file): \(error.message)")
                        #expect(error.range.file == path, "\(file): errors point into the JSON")
                    }
                    continue
                }
                let yaml = try #require(imported.yaml, "\(file)")
                #expect(!yaml.isEmpty)
                // The written pipeline checks on its own, as `strata check OUT.yaml` would.
                let rechecked = PipelineCompiler().compile(source: yaml, path: "out.yaml")
                #expect(!rechecked.diagnostics.contains { $0.severity == .error }, "\(file)")
                #expect(ArchonImporter.importFile(path: path, options: options).yaml == yaml, "\(file): deterministic")
                #expect(!yaml.contains("sk-"))
            }
        }
    }

    /// Every refusal of the corpus is one of the constructs Strata cannot run, never a gap in the reader:
    /// a prompt that cannot fit its model's window, invalid JSON, a reward-model ranker, Bedrock, a mixed
    /// layer.
    @Test func refusalsAreOnlyTheConstructsStrataCannotRun() {
        let allowed: Set<DiagnosticCode> = [
            .contextOverflow, .archonInvalidJSON, .archonRewardModelRanker, .archonUnsupportedProvider, .archonLayerShape,
        ]
        for file in Self.files {
            let imported = ArchonImporter.importFile(path: Self.root.appendingPathComponent(file).path, options: ArchonImportOptions())
            let errors = Set(imported.diagnostics.filter { $0.severity == .error }.map(\.code))
            #expect(errors.isSubset(of: allowed), "\(file): \(errors)")
        }
    }
}
