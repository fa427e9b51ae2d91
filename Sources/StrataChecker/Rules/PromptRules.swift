import StrataDiagnostics
import StrataSyntax

extension LayerWalk {
    /// Prompt overrides (the layer's, an entry's own, a second prompt) use
    /// only their template's placeholders and contain the required ones (E025).
    mutating func checkPrompts(_ layer: LayerSyntax, _ draft: inout LayerDraft) {
        let kind = layer.kind
        let mainTemplate: PromptTemplate?
        var secondTemplate: PromptTemplate?
        switch kind {
        case .vote: mainTemplate = nil
        case .ensemble: mainTemplate = .generate
        case .critique: mainTemplate = .critique
        case .rank: mainTemplate = .rank
        case .fuse: mainTemplate = .fuse
        case .verify: mainTemplate = .verifyReasoning; secondTemplate = .verifyVerdict
        case .unitTest:
            mainTemplate = draft.testSource != .model ? nil : draft.mode == .execute ? .writeExecutableTests : .writeJudgeTests
            secondTemplate = draft.mode == .judge ? .judgeTests : nil
            if draft.testSource != .model, let prompt = layer.prompt {
                report(
                    .promptPlaceholder, "this layer writes no tests ('test_source: \(draft.testSource.rawValue)'), so this prompt is never used",
                    at: prompt.range)
            }
        case .writeTests: mainTemplate = draft.mode == .execute ? .writeExecutableTests : .writeJudgeTests
        }
        if let mainTemplate, let mainRole = Self.mainRole(kind) {
            draft.prompts[mainRole] = checkPrompt(layer.prompt, against: mainTemplate)
            // An entry's own prompt (ensemble, fuse) is checked like the layer's.
            if draft.entries.count == layer.entries.count {
                for (offset, syntax) in layer.entries.enumerated() where syntax.prompt != nil {
                    draft.entries[offset].prompt = checkPrompt(syntax.prompt, against: mainTemplate)
                }
            }
        }
        if let secondTemplate {
            draft.prompts[kind == .verify ? .verifyVerdict : .judgeTests] = checkPrompt(layer.secondPrompt, against: secondTemplate)
        } else if let second = layer.secondPrompt {
            report(.promptPlaceholder, "this layer sends no second prompt, so this override is never used", at: second.range)
        }
    }

    /// The override if it is well formed (reported otherwise), else the built-in text.
    mutating func checkPrompt(_ override: Located<String>?, against template: PromptTemplate) -> String {
        guard let override else { return template.text }
        let used = PromptTemplate.placeholders(in: override.value)
        for name in used where !template.allowed.contains(name) {
            var fixIts: [FixIt] = []
            var message = "unknown placeholder '{\(name)}' in the \(template.role) prompt"
            if let suggestion = Suggestions.closest(to: name, in: template.allowed) {
                message += "; did you mean '{\(suggestion)}'?"
                fixIts.append(FixIt(message: "use '{\(suggestion)}'", edits: []))
            }
            report(
                .promptPlaceholder, message, at: override.range,
                notes: [DiagnosticNote("this prompt can use: \(template.allowed.map { "{\($0)}" }.joined(separator: ", ")); write '{{' for a literal brace")],
                fixIts: fixIts)
        }
        let missing = template.required.filter { !used.contains($0) }
        if !missing.isEmpty {
            report(
                .promptPlaceholder, "the \(template.role) prompt must contain \(missing.map { "{\($0)}" }.joined(separator: " and "))", at: override.range,
                notes: [DiagnosticNote("without it the model never sees what it must work on")])
        }
        return override.value
    }

    /// The role of a layer's first (or only) call.
    static func mainRole(_ kind: LayerKind) -> CallRole? {
        switch kind {
        case .vote: nil
        case .ensemble: .generate
        case .critique: .critique
        case .rank: .rank
        case .fuse: .fuse
        case .verify: .verifyReasoning
        case .unitTest, .writeTests: .writeTests
        }
    }

    /// Worst-case prompt tokens of each of the layer's calls: its fixed text,
    /// the query, and what it embeds of the incoming pool.
    func estimateInputTokens(_ draft: inout LayerDraft, pool: Pool) {
        let kind = draft.kind
        let rawQuery = budget.queryTokens + TokenEstimate.perMessageOverhead
        // Tests shown by a write-tests layer travel in every later query but the test writer's and the judge's.
        let shown = testWriter.map { $0.shows && kind != .writeTests ? $0.testTokens : 0 } ?? 0
        let query = rawQuery + shown
        let embedded = draft.poolIn.max * (pool.candidateTokens + TokenEstimate.perCandidateOverhead) + pool.critiqueTokens
        let prompts = draft.prompts, entries = draft.entries
        func fixed(_ role: CallRole) -> Int {
            // The longest of the layer's prompt and its entries' own.
            let texts = [prompts[role] ?? ""] + (role == Self.mainRole(kind) ? entries.compactMap(\.prompt) : [])
            return texts.map { TokenEstimate.of(PromptTemplate.fixedText(of: $0)) }.max()! + TokenEstimate.perMessageOverhead
        }
        switch kind {
        case .ensemble: draft.inputTokens[.generate] = fixed(.generate) + query
        case .critique: draft.inputTokens[.critique] = fixed(.critique) + query + embedded
        case .rank: draft.inputTokens[.rank] = fixed(.rank) + query + embedded
        // The fuse prompt is a system message that quotes the query, followed by the query itself.
        case .fuse: draft.inputTokens[.fuse] = fixed(.fuse) + 2 * query + embedded + TokenEstimate.of(PromptTemplate.lengthControlSentence)
        case .verify:
            draft.inputTokens[.verifyReasoning] = fixed(.verifyReasoning) + query + pool.candidateTokens
            draft.inputTokens[.verifyVerdict] = fixed(.verifyVerdict) + query + pool.candidateTokens + draft.base.maxTokens
        case .unitTest:
            if draft.testSource == .model { draft.inputTokens[.writeTests] = fixed(.writeTests) + rawQuery }
            let tests =
                draft.testSource == .written
                ? testWriter?.testTokens ?? 0
                : TokenEstimate.tests(mode: draft.mode, count: draft.layer.tests?.value ?? 5, writerOutput: draft.writeTestsOutput)
            if draft.mode == .judge { draft.inputTokens[.judgeTests] = fixed(.judgeTests) + rawQuery + pool.candidateTokens + tests }
        case .writeTests: draft.inputTokens[.writeTests] = fixed(.writeTests) + rawQuery
        case .vote: break
        }
    }
}
