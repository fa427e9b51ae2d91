import Foundation
import Strata
import StrataTestSupport
import Testing

/// One regression test per class of input the hostile probe of issue 10 found:
/// each gets a diagnostic at the right place, quickly, and never a crash.
@Suite struct HostileInputTests {
    static let gpt = DiagnosticGoldenTests.gpt

    /// Times `work` in seconds.
    static func seconds(_ work: () -> Void) -> Double {
        let start = Date()
        work()
        return Date().timeIntervalSince(start)
    }

    @Test func deepNestingIsALimitNotACrash() {
        // 50,000 levels once overflowed the stack while the tree was freed.
        let deep = String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000)
        let result = PipelineCompiler().compile(source: "strata: 1\nlayers: " + deep, path: "main.yaml")
        #expect(result.diagnostics.map(\.code) == [.limitExceeded])
        #expect(result.diagnostics.first?.range.start.line == 2)
        let mappings = String(repeating: "{a: ", count: 5_000) + "1" + String(repeating: "}", count: 5_000)
        #expect(PipelineCompiler().compile(source: mappings, path: "main.yaml").diagnostics.map(\.code) == [.limitExceeded])
    }

    @Test func aLongFlatListIsParsedInLinearTime() {
        // An 80 KB flat list took 11.5 s when every append copied the list.
        let list = "[" + Array(repeating: "1", count: 40_000).joined(separator: ",") + "]"
        let elapsed = Self.seconds { _ = YAMLParser.parse("x: " + list, file: "big.yaml") }
        #expect(elapsed < 1.0, "parsing 80 KB took \(elapsed) s")
    }

    @Test func crlfFilesReportTheRightLine() {
        let source =
            (Self.gpt + """
                layers:
                  - ensemble:
                      - model: gpt
                        smaples: 3
                """).replacingOccurrences(of: "\n", with: "\r\n")
        let result = PipelineCompiler().compile(source: source, path: "main.yaml")
        let unknown = result.diagnostics.first { $0.code == .unknownKey }
        #expect(unknown?.range.start == SourceLocation(line: 7, column: 9))
        let rendered = DiagnosticRenderer(sources: result.sources).render(result.diagnostics)
        #expect(rendered.contains("7 |         smaples: 3\n"), Comment(rawValue: rendered))
        #expect(!rendered.contains("gpt-4o-mini"), "the snippet is one line, not the whole file")
    }

    @Test func controlBytesAndInvalidUTF8AreLocated() throws {
        let nul = PipelineCompiler().compile(source: "strata: 1\nname: a\u{0}b\n", path: "main.yaml")
        #expect(nul.diagnostics.first?.code == .yamlSyntax)
        #expect(nul.diagnostics.first?.range.start == SourceLocation(line: 2, column: 8))
        let rendered = DiagnosticRenderer(sources: nul.sources).render(nul.diagnostics)
        #expect(!rendered.unicodeScalars.contains("\u{0}"), "control bytes are never printed raw")

        let directory = try temporaryDirectory()
        let path = directory.appendingPathComponent("bad.yaml").path
        try Data("strata: 1\nname: caf".utf8 + [0xC3, 0x28] + Data("\n".utf8)).write(to: URL(fileURLWithPath: path))
        let invalid = PipelineCompiler().compile(path: path)
        #expect(invalid.diagnostics.map(\.code) == [.unreadableFile])
        #expect(invalid.diagnostics.first?.range.start == SourceLocation(line: 2, column: 10))
    }

    @Test func longNamesGetNoSlowSuggestion() {
        let name = String(repeating: "x", count: 20_000)
        var result: CompileResult?
        let elapsed = Self.seconds {
            result = PipelineCompiler().compile(source: Self.gpt + "layers:\n  - ensemble: [\(name)]\n  - fuse: [\(name)]\n", path: "main.yaml")
        }
        #expect(elapsed < 1.0, "took \(elapsed) s")
        #expect(result?.diagnostics.contains { $0.code == .undeclaredModel } == true)
    }

    @Test func longLinesAreShownAsAWindowAndRepeatsAreFolded() {
        let padding = String(repeating: " ", count: 5_000)
        let source = Self.gpt + "layers:\n  - ensemble: [\(padding)nope]\n"
        let result = PipelineCompiler().compile(source: source, path: "main.yaml")
        let rendered = DiagnosticRenderer(sources: result.sources).render(result.diagnostics)
        #expect(rendered.split(separator: "\n").allSatisfy { $0.unicodeScalars.count < 400 }, Comment(rawValue: rendered))
        #expect(rendered.contains("^^^^"))

        let includes = Array(repeating: "missing.yaml", count: 2_000).joined(separator: ", ")
        let folded = PipelineCompiler(loader: memoryLoader([:])).compile(source: "strata: 1\ninclude: [\(includes)]\n", path: "main.yaml")
        let text = DiagnosticRenderer(sources: folded.sources).render(folded.diagnostics)
        #expect(folded.diagnostics.count < 10)
        #expect(text.utf8.count < 20_000, "\(text.utf8.count) bytes")
    }

    @Test func hugeAndTinyNumbersNeverTrap() {
        for budget in ["latency_s: 1e-300", "usd: 1e308", "calls: 9223372036854775807"] {
            let source = """
                strata: 1
                models:
                  gpt: { provider: openai, model: gpt-4o-mini, price: { input: 1e308, output: 1e308 } }
                budget: { \(budget) }
                layers:
                  - ensemble: [{ model: gpt, samples: 100000 }]
                """
            let result = PipelineCompiler().compile(source: source, path: "main.yaml")
            #expect(result.hasErrors)
        }
    }

    @Test func includesStayInThePipelinesTree() throws {
        let directory = try temporaryDirectory()
        try "strata: 1\n".write(to: directory.appendingPathComponent(".strata"), atomically: true, encoding: .utf8)
        let main = directory.appendingPathComponent("main.yaml")
        try "strata: 1\ninclude: [/proc/self/environ, ../outside.yaml, notes.txt]\n".write(to: main, atomically: true, encoding: .utf8)
        try "secret".write(to: directory.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let result = PipelineCompiler().check(path: main.path)
        #expect(result.diagnostics.filter { $0.code == .unreadableFile }.count == 3)
        #expect(result.diagnostics.allSatisfy { $0.message.hasPrefix("refusing to include") || $0.code != .unreadableFile })
        let rendered = DiagnosticRenderer(sources: result.sources).render(result.diagnostics)
        #expect(!rendered.contains("PATH="), "the environment never appears")
    }

    @Test func anIncludeThatIsNotYAMLIsNeverQuoted() throws {
        let directory = try temporaryDirectory()
        try "strata: 1\n".write(to: directory.appendingPathComponent(".strata"), atomically: true, encoding: .utf8)
        try "strata: 1\ninclude: secrets.yaml\n".write(to: directory.appendingPathComponent("main.yaml"), atomically: true, encoding: .utf8)
        try "TOKEN=abc123: [unclosed\n".write(to: directory.appendingPathComponent("secrets.yaml"), atomically: true, encoding: .utf8)
        let result = PipelineCompiler().check(path: directory.appendingPathComponent("main.yaml").path)
        #expect(result.diagnostics.contains { $0.code == .yamlSyntax })
        let rendered = DiagnosticRenderer(sources: result.sources).render(result.diagnostics)
        #expect(!rendered.contains("abc123"), Comment(rawValue: rendered))
    }

    @Test func keysGoOnlyWhereTheyAreMeantFor() {
        expectDiagnostics(
            """
            strata: 1
            models:
              proxy: { provider: openai, model: gpt-4o, base_url: 1️⃣https://llm.example.com/v1 }
              plain: { provider: openai-compatible, model: m, base_url: http://10.0.0.5:8000/v1, api_key_env: 2️⃣MY_KEY }
              local: { provider: openai-compatible, model: m, base_url: http://127.0.0.1:8080/v1, api_key_env: MY_KEY }
              stolen: { provider: openai-compatible, model: m, base_url: https://llm.example.com/v1, api_key_env: 3️⃣ANTHROPIC_API_KEY }
            layers:
              - ensemble: [proxy, plain, local, stolen]
              - fuse: [proxy]
            """, [("1️⃣", .providerSetting), ("2️⃣", .providerSetting), ("3️⃣", .providerSetting)])
    }

    @Test func checkingIsFastOnLargeFiles() {
        // A generous 100 KB pipeline: a long description and many comment lines.
        var source = Self.gpt + "description: \"" + String(repeating: "word ", count: 12_000) + "\"\n"
        source += String(repeating: "# a comment line that is long enough to matter\n", count: 1_000)
        source += "layers:\n  - ensemble: [{ model: gpt, samples: 3 }]\n  - fuse: [gpt]\n"
        #expect(source.utf8.count > 100_000)
        let elapsed = Self.seconds { _ = PipelineCompiler().compile(source: source, path: "main.yaml") }
        #expect(elapsed < 1.0, "took \(elapsed) s")
    }

    @Test(arguments: [20_000, 100_000])
    func thousandsOfDistinctIncludesAreALimitReachedQuickly(count: Int) {
        // 20,000 distinct entries took 21 s and 100,000 nine minutes when each was checked against every other.
        var files: [String: String] = [:]
        for index in 0..<count { files["/p/m\(index).yaml"] = "strata: 1\nmodels:\n  m\(index): { provider: openai, model: gpt-4o-mini }\n" }
        let source = "strata: 1\ninclude: [" + (0..<count).map { "m\($0).yaml" }.joined(separator: ", ") + "]\nlayers:\n  - ensemble: [m0]\n"
        var result: CompileResult?
        let elapsed = Self.seconds { result = PipelineCompiler(loader: memoryLoader(files)).compile(source: source, path: "/p/main.yaml") }
        #expect(elapsed < 3, "\(count) includes took \(elapsed) s")
        let limits = result?.diagnostics.filter { $0.code == .limitExceeded } ?? []
        #expect(limits.count == 1, "said once: \(limits.map(\.message))")
        #expect(limits.first?.range.start.line == 2)
        #expect(result?.diagnostics.count == 1, "\(result?.diagnostics.map(\.message) ?? [])")
    }

    @Test func includesAreReadAndParsedOncePerSearch() throws {
        let reads = Counter()
        let cache = IncludeCache()
        let loader = SourceLoader(
            readFile: { path in
                if path.hasSuffix("models.yaml") { reads.increment() }
                return "strata: 1\nmodels:\n  gpt: { provider: openai, model: gpt-4o-mini }\n"
            }, includeRoots: ["/"], includeCache: cache)
        for samples in 1...5 {
            let loaded = loader.load(
                text: "strata: 1\ninclude: models.yaml\nlayers:\n  - ensemble: [{ model: gpt, samples: \(samples) }]\n",
                path: "/pipelines/main.yaml")
            #expect(loaded.included.count == 1)
            #expect(loaded.diagnostics.isEmpty)
        }
        #expect(reads.value == 1)
        #expect(cache.count == 1)
    }

    @Test func aHugeInfeasibleSpaceIsCheckedQuickly() throws {
        // 100,000 configurations, none feasible: `strata check` compiled every one.
        let directory = try temporaryDirectory()
        let path = directory.appendingPathComponent("space.yaml").path
        var text = "strata-search: 1\nname: s\naxes:\n"
        for axis in 0..<5 { text += "  a\(axis): { range: [1, 10] }\n" }
        text += "pipeline:\n  layers:\n    - ensemble: [{ model: nosuch, samples: $a0 }]\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var result: CompileResult?
        let elapsed = Self.seconds { result = PipelineCompiler().check(path: path) }
        #expect(elapsed < 2.0, "took \(elapsed) s")
        #expect(result?.diagnostics.map(\.code).contains(.feasibilityUnproven) == true)
        #expect(result?.hasErrors == false)
        #expect(result?.diagnostics.map(\.code).filter { $0 == .unusedAxis }.count == 4)

        // A small space is compiled whole, and its emptiness is an error.
        let small = text.replacingOccurrences(of: "range: [1, 10]", with: "range: [1, 2]")
        try small.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(PipelineCompiler().check(path: path).diagnostics.map(\.code).contains(.noFeasibleConfiguration))
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
