import StrataDiagnostics
import StrataYAML
import Testing

@Suite struct YAMLParserTests {
    func parse(_ text: String) -> YAMLParseResult { YAMLParser.parse(text, file: "t.yaml") }

    func pairs(_ node: YAMLNode?) -> [YAMLNode.Pair] {
        if case .mapping(let pairs)? = node?.content { return pairs }
        return []
    }

    @Test func everyNodeCarriesItsRange() throws {
        let result = parse(
            """
            name: quick
            layers:
              - rank: { model: m, top_k: 2 }
            """)
        #expect(result.diagnostics.isEmpty)
        let top = pairs(result.root)
        #expect(top.map { $0.key.scalar?.value } == ["name", "layers"])
        let name = top[0]
        #expect(name.key.range.start == SourceLocation(line: 1, column: 1))
        #expect(name.key.range.end == SourceLocation(line: 1, column: 5))
        #expect(name.value.range.start == SourceLocation(line: 1, column: 7))
        #expect(name.value.range.end == SourceLocation(line: 1, column: 12))
        guard case .sequence(let layers) = top[1].value.content else { Issue.record("layers is not a list"); return }
        #expect(top[1].value.range.start == SourceLocation(line: 3, column: 3))
        let rank = pairs(layers.first)
        let settings = rank[0].value
        #expect(settings.range.start == SourceLocation(line: 3, column: 11))
        #expect(settings.range.end == SourceLocation(line: 3, column: 33))
        let topK = pairs(settings)[1]
        #expect(topK.key.range.start == SourceLocation(line: 3, column: 23))
        #expect(topK.value.scalar == .init(value: "2", style: .plain, tag: nil))
    }

    @Test func scalarStylesAndTagsArePreserved() {
        let top = pairs(
            parse(
                """
                a: 'one'
                b: "two"
                c: |
                  three
                d: !!str 4
                """
            ).root)
        #expect(top.map { $0.value.scalar?.style } == [.singleQuoted, .doubleQuoted, .literal, .plain])
        #expect(top[2].value.scalar?.value == "three\n")
        #expect(top[3].value.scalar?.tag == "tag:yaml.org,2002:str")
    }

    @Test func duplicateKeysPointAtBothPlaces() throws {
        let result = parse("a: 1\nb: 2\na: 3\n")
        let diagnostic = try #require(result.diagnostics.first)
        #expect(result.diagnostics.count == 1)
        #expect(diagnostic.code == .duplicateKey)
        #expect(diagnostic.range.start == SourceLocation(line: 3, column: 1))
        #expect(diagnostic.notes.first?.range?.start == SourceLocation(line: 1, column: 1))
        #expect(pairs(result.root).count == 2)
    }

    @Test func aliasesResolveToTheAnchoredNode() {
        let top = pairs(parse("base: &b { x: 1 }\nuse: *b\n").root)
        #expect(pairs(top[1].value).first?.key.scalar?.value == "x")
    }

    @Test func mergeKeysLetExplicitKeysWin() {
        let top = pairs(parse("base: &b { x: 1, y: 2 }\nuse: { <<: *b, y: 3 }\n").root)
        let merged = pairs(top[1].value).map { ($0.key.scalar!.value, $0.value.scalar!.value) }
        #expect(merged.map(\.0) == ["y", "x"])
        #expect(merged.map(\.1) == ["3", "1"])
    }

    @Test func syntaxErrorsBecomeDiagnosticsAtTheirPosition() throws {
        let result = parse("a: [1, 2\nb: 3\n")
        let diagnostic = try #require(result.diagnostics.first)
        #expect(diagnostic.code == .yamlSyntax)
        #expect(result.root == nil)
        #expect(diagnostic.range.start.line == 2)
        #expect(diagnostic.notes.first?.range?.start == SourceLocation(line: 1, column: 4))
    }

    @Test func tabsInIndentationAreSyntaxErrors() {
        let result = parse("a:\n\tb: 1\n")
        #expect(result.diagnostics.map(\.code) == [.yamlSyntax])
    }

    @Test func invalidUTF8IsADiagnostic() {
        let bytes: [UInt8] = [0x61, 0x3A, 0x20, 0xFF, 0xFE, 0x0A]
        let result = parse(String(decoding: bytes, as: UTF8.self))
        // Swift repairs invalid UTF-8 into U+FFFD; either way nothing crashes and the text is read.
        #expect(result.root != nil || !result.diagnostics.isEmpty)
    }

    @Test func emptyTextHasNoRoot() {
        let result = parse("")
        #expect(result.root == nil)
        #expect(result.diagnostics.isEmpty)
    }

    @Test func selfReferenceIsACycle() {
        let result = parse("a: &x { b: *x }\n")
        #expect(result.diagnostics.map(\.code) == [.badAlias])
        #expect(result.diagnostics.first?.message.contains("contains it") == true)
    }

    @Test func unknownAnchorsAreDiagnostics() {
        // libyaml itself accepts an undefined alias; the tree builder refuses it.
        let result = parse("a: *nowhere\n")
        #expect(result.diagnostics.map(\.code) == [.badAlias])
    }

    @Test func expansionLimitStopsExponentialAliases() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...6 {
            text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect(YAMLParser.parse(text, file: "t", maxExpandedNodes: 1_000).diagnostics.map(\.code) == [.aliasExpansionTooLarge])
        #expect(YAMLParser.parse("a: &a [1]\nb: [*a, *a]\n", file: "t", maxExpandedNodes: 1_000).diagnostics.isEmpty)
    }

    @Test func columnsCountCharactersNotBytes() {
        let top = pairs(parse("é: ü\n").root)
        #expect(top[0].value.range.start == SourceLocation(line: 1, column: 4))
    }
}
