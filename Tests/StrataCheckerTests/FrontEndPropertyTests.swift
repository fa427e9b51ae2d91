import Foundation
import PropertyBased
import Strata
import StrataTestSupport
import Testing

/// Random and mutated documents never crash the front end or the checker, and
/// always yield a compiled pipeline or at least one diagnostic.
@Suite struct FrontEndPropertyTests {
    static let seeds: [String] = {
        let files = (try? yamlFiles(under: "Pipelines")) ?? []
        return files.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
    }()

    static let fragments = [
        ":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "<<: *a", "!!str ", "'", "\"", "#", "|\n", ">\n",
        "---\n", "...\n", "\t", "ensemble", "rank", "fuse", "verify", "unit-test", "critique", "model: local", "samples: ",
        "top_k: ", "0", "-1", "99999999999999999999", "1e309", "~", "null", "true", "on_empty: ", "keep-all", "strata: 1\n",
        "layers:\n", "models:\n", "include: x.yaml\n", "é", "\u{0}", "\u{FEFF}", "%YAML 1.2\n", "? ", "=",
    ]

    static func mutate(_ text: String, with operations: [Int]) -> String {
        var scalars = Array(text.unicodeScalars)
        for operation in operations {
            let position = scalars.isEmpty ? 0 : operation % (scalars.count + 1)
            let fragment = Array(fragments[(operation / 7) % fragments.count].unicodeScalars)
            switch operation % 5 {
            case 0: scalars.insert(contentsOf: fragment, at: position)
            case 1: scalars.removeSubrange(position..<min(scalars.count, position + 1 + operation % 13))
            case 2:  // duplicate a slice somewhere else
                let end = min(scalars.count, position + 1 + operation % 40)
                let slice = Array(scalars[position..<end])
                scalars.insert(contentsOf: slice, at: (operation / 3) % (scalars.count + 1))
            case 3: if position < scalars.count { scalars[position] = fragment.first ?? " " }
            default:  // swap two lines
                var lines = String(String.UnicodeScalarView(scalars)).split(separator: "\n", omittingEmptySubsequences: false)
                if lines.count > 1 { lines.swapAt(operation % lines.count, (operation / 11) % lines.count) }
                scalars = Array(lines.joined(separator: "\n").unicodeScalars)
            }
        }
        return String(String.UnicodeScalarView(scalars))
    }

    static func expectTotal(_ text: String) {
        let result = PipelineCompiler(loader: memoryLoader([:])).compile(source: text, path: "fuzz.yaml")
        #expect(result.compiled != nil || !result.diagnostics.isEmpty, "no pipeline and no diagnostic for:\n\(text)")
        if result.compiled != nil { #expect(!result.hasErrors) }
        // Every diagnostic points into a file that was read, inside its lines.
        for diagnostic in result.diagnostics {
            if let file = result.sources[diagnostic.range.file] {
                #expect(diagnostic.range.start.line >= 1 && diagnostic.range.start.line <= max(1, file.lineCount))
            }
        }
        _ = DiagnosticRenderer(sources: result.sources).render(result.diagnostics)
    }

    @Test func mutatedPipelinesNeverCrash() async {
        await propertyCheck(count: 250, input: Gen.int(in: 0...Int(Int32.max)).array(of: 1...8)) { operations in
            let seed = Self.seeds[operations[0] % Self.seeds.count]
            Self.expectTotal(Self.mutate(seed, with: Array(operations.dropFirst())))
        }
    }

    @Test func randomDocumentsNeverCrash() async {
        await propertyCheck(count: 250, input: Gen.element(of: Self.fragments).array(of: 0...60)) { pieces in
            Self.expectTotal(pieces.compactMap { $0 }.joined())
        }
    }
}
