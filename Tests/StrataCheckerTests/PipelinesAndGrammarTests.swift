import Foundation
import Strata
import StrataTestSupport
import Testing

/// The package root, found from this file's path.

func yamlFiles(under folder: String) throws -> [String] {
    let root = packageRoot.appendingPathComponent(folder)
    let enumerator = FileManager.default.enumerator(atPath: root.path)
    var files: [String] = []
    while let path = enumerator?.nextObject() as? String {
        // Search spaces are not pipelines; `everySearchSpaceChecksCleanly` covers them.
        if path.hasPrefix("searches/") { continue }
        if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { files.append(root.appendingPathComponent(path).path) }
    }
    return files.sorted()
}

@Suite struct PipelinesAndGrammarTests {
    @Test func everyExamplePipelineChecksCleanly() throws {
        let files = try yamlFiles(under: "Pipelines")
        #expect(files.filter { !$0.contains("/models/") }.count >= 8)
        for file in files {
            let result = PipelineCompiler().check(path: file)
            #expect(result.diagnostics.isEmpty, "\(file):\n\(DiagnosticRenderer(sources: result.sources).render(result.diagnostics))")
        }
    }

    @Test func everySearchSpaceChecksCleanly() async throws {
        let folder = packageRoot.appendingPathComponent("Pipelines/searches")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 2)
        for file in files {
            let path = folder.appendingPathComponent(file).path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.hasPrefix("# "), "\(file) should open with a comment saying what it is for")
            let loaded = SearchSpaceLoader.load(path: path)
            #expect(loaded.diagnostics.isEmpty, "\(file):\n\(DiagnosticRenderer(sources: loaded.sources).render(loaded.diagnostics))")
            // Small spaces here; the paper's 2,400 configurations are compiled by the search tests.
            if let space = loaded.space, space.size <= 100 {
                // Off the cooperative pool: other suites' timing tests wait on it.
                let plan = await offPool { SearchPlan(space: space) }
                #expect(plan.emptinessDiagnostic == nil)
            }
        }
    }

    @Test func everyExamplePipelineSaysWhatItIsFor() throws {
        for file in try yamlFiles(under: "Pipelines") {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(text.hasPrefix("# "), "\(file) should open with a comment saying what it is for")
        }
    }

    @Test func everyPipelineWithLayersCompiles() throws {
        for file in try yamlFiles(under: "Pipelines") where !file.contains("/models/") {
            let compiled = try #require(PipelineCompiler().compile(path: file).compiled, "\(file)")
            #expect(compiled.graph.worstCaseCallNodes == compiled.cost.total.calls, "\(file)")
        }
    }

    /// Every key the checker accepts is in the schema, and the reverse.
    @Test func schemaKeysMatchTheChecker() throws {
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("Grammar/strata.schema.json"))
        let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let definitions = try #require(schema["$defs"] as? [String: Any])
        func properties(_ definition: Any?) -> Set<String>? {
            guard let object = definition as? [String: Any] else { return nil }
            if let properties = object["properties"] as? [String: Any] { return Set(properties.keys) }
            // `entry` is a string or an object: take the object branch.
            for branch in object["oneOf"] as? [Any] ?? [] {
                if let keys = properties(branch) { return keys }
            }
            return nil
        }
        #expect(Set(definitions.keys) == Set(Vocabulary.contexts.keys), "schema $defs and checker contexts differ")
        for (context, keys) in Vocabulary.contexts {
            let schemaKeys = try #require(properties(definitions[context]), "no properties for \(context)")
            #expect(schemaKeys == Set(keys), "\(context): only in schema \(schemaKeys.subtracting(keys)), only in checker \(Set(keys).subtracting(schemaKeys))")
        }
    }

    /// The search-file schema names exactly the keys the search loader reads.
    @Test func searchSchemaKeysMatchTheLoader() throws {
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("Grammar/strata-search.schema.json"))
        let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let top = try #require(schema["properties"] as? [String: Any])
        #expect(Set(top.keys) == Set(SearchSpaceLoader.fileKeys))
        let axis = try #require(((schema["$defs"] as? [String: Any])?["axis"] as? [String: Any])?["oneOf"] as? [[String: Any]])
        let axisKeys = try #require(axis.compactMap { $0["properties"] as? [String: Any] }.first)
        #expect(Set(axisKeys.keys) == Set(SearchSpaceLoader.axisKeys))
    }

    /// The enumerations the checker accepts match the schema's `enum`s.
    @Test func schemaEnumsMatchTheChecker() throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Grammar/strata.schema.json"), encoding: .utf8)
        let compact = text.filter { !$0.isWhitespace }
        func expectEnum(_ values: [String]) {
            let json = "\"enum\":[" + values.map { "\"\($0)\"" }.joined(separator: ",") + "]"
            #expect(compact.contains(json), "schema lacks \(json)")
        }
        expectEnum(Provider.allCases.map(\.rawValue))
        expectEnum(EmptyPolicy.allCases.map(\.rawValue))
        expectEnum(UnitTestMode.allCases.map(\.rawValue))
        expectEnum(TestSource.allCases.map(\.rawValue))
        expectEnum(StructuredOutput.allCases.map(\.rawValue))
        expectEnum(MalformedPolicy.allCases.map(\.rawValue))
    }

    /// The language reference lists every diagnostic code with its summary.
    @Test func grammarReferenceListsEveryDiagnostic() throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Grammar/README.md"), encoding: .utf8)
        for code in DiagnosticCode.allCases {
            #expect(text.contains("| \(code.rawValue) | \(code.summary) |"), "Grammar/README.md lacks \(code.rawValue)")
        }
        for kind in LayerKind.allCases {
            #expect(text.contains("| `\(kind.rawValue)` |"), "Grammar/README.md's typing table lacks \(kind.rawValue)")
        }
    }
}
