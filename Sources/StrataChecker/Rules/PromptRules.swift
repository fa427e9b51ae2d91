import StrataDiagnostics
import StrataSyntax

extension LayerWalk {
    /// Prompt overrides (the layer's, an entry's own, a second prompt) use
    /// only their template's placeholders and contain the required ones (E025).
    mutating func checkPrompts(_ layer: LayerSyntax, _ draft: inout LayerDraft) {
        let typing = LayerTypings.typing(for: layer.kind)
        let (mainTemplate, second) = typing.templates(draft)
        if let reason = typing.unusedPrompt(draft), let prompt = layer.prompt { report(.promptPlaceholder, reason, at: prompt.range) }
        if let mainTemplate, let mainRole = typing.mainRole {
            draft.prompts[mainRole] = checkPrompt(layer.prompt, against: mainTemplate)
            // An entry's own prompt (ensemble, fuse) is checked like the layer's.
            if draft.entries.count == layer.entries.count {
                for (offset, syntax) in layer.entries.enumerated() where syntax.prompt != nil {
                    draft.entries[offset].prompt = checkPrompt(syntax.prompt, against: mainTemplate)
                }
            }
        }
        if let second {
            draft.prompts[second.role] = checkPrompt(layer.secondPrompt, against: second.template)
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
        let covered = used.contains("context") ? PromptTemplate.contextCovers : []
        let missing = template.required.filter { !used.contains($0) && !covered.contains($0) }
        if !missing.isEmpty {
            report(
                .promptPlaceholder, "the \(template.role) prompt must contain \(missing.map { "{\($0)}" }.joined(separator: " and "))", at: override.range,
                notes: [DiagnosticNote("without it the model never sees what it must work on")]
                    + (template.allowed.contains("context") && missing.allSatisfy(PromptTemplate.contextCovers.contains)
                        ? [
                            DiagnosticNote(
                                "or open the prompt with {context}: the request and what it reads, worded as every call of the query shares them, so a prompt cache reads them once"
                            )
                        ]
                        : []))
        }
        return override.value
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
        let typing = LayerTypings.typing(for: kind)
        func fixed(_ role: CallRole) -> Int {
            // The longest of the layer's prompt and its entries' own.
            let texts = [prompts[role] ?? ""] + (role == typing.mainRole ? entries.compactMap(\.prompt) : [])
            return texts.map { TokenEstimate.of(PromptTemplate.fixedText(of: $0)) }.max()! + TokenEstimate.perMessageOverhead
        }
        let writtenTests = testWriter?.testTokens ?? 0
        let sizes = PromptSizes(
            rawQuery: rawQuery, query: query, embedded: embedded, candidateTokens: pool.candidateTokens, writtenTests: writtenTests, fixed: fixed)
        for (role, tokens) in typing.inputTokens(draft, sizes) { draft.inputTokens[role] = tokens }
        draft.contextTokens = (query + embedded - pool.critiqueTokens, query + pool.candidateTokens)
    }
}
