import StrataDiagnostics
import StrataSyntax

/// `route`: no calls of its own; each branch is checked as a pipeline, and the
/// route yields whatever pool its branches can.
struct RouteTyping: LayerTyping {
    var kinds: [LayerKind] { [.route] }
    var mainRole: CallRole? { nil }

    func templates(_ draft: LayerDraft) -> (main: PromptTemplate?, second: (role: CallRole, template: PromptTemplate)?) { (nil, nil) }

    func inputTokens(_ draft: LayerDraft, _ sizes: PromptSizes) -> [CallRole: Int] { [:] }

    func checkPool(_ layer: LayerSyntax, _ draft: inout LayerDraft, pool: inout LayerWalk.Pool, walk: inout LayerWalk) {
        walk.checkRoute(layer, &draft)
    }

    /// A cascade can run every branch; a match runs one; a classifier adds its call to one.
    func worstCaseCalls(_ layer: CheckedLayer) -> Int {
        let perBranch = layer.branches.map { $0.layers.reduce(0) { $0 + LayerWalk.worstCaseCalls($1) } }
        switch layer.route {
        case .cascade?: return perBranch.reduce(0, +)
        case .classify?: return 1 + (perBranch.max() ?? 0)
        default: return perBranch.max() ?? 0
        }
    }
}

extension LayerWalk {
    /// Checks every branch as a pipeline of its own (sharing the models,
    /// defaults and budget), then the rule against the branches: names that
    /// exist (E101), branches and arms that can be reached (W102), and a
    /// cascade's measure (E103).
    mutating func checkRoute(_ layer: LayerSyntax, _ draft: inout LayerDraft) {
        var pools: [PoolRange] = []
        for branch in layer.branches {
            if let nested = branch.layers.first(where: { $0.kind == .route }) {
                report(
                    .routePlacement, "a branch cannot hold a route of its own", at: nested.kindRange,
                    notes: [DiagnosticNote("add the choice as another branch of this route")])
                draft.resolved = false
                continue
            }
            var branchMain = main
            branchMain.layers = branch.layers
            var walk = LayerWalk(main: branchMain, allowModelsFile: false)
            walk.resolver = resolver
            walk.defaults = defaults
            walk.budget = budget
            let layers = walk.checkLayers(noLayersAt: branch.range)
            diagnostics += walk.diagnostics
            usedModels.formUnion(walk.usedModels)
            guard let layers, let last = layers.last else {
                draft.resolved = false
                continue
            }
            draft.branches.append(CheckedBranch(name: branch.name.value, layers: layers))
            pools.append(last.poolOut)
            draft.candidateTokensOut = max(draft.candidateTokensOut, last.candidateTokensOut)
            if case .cascade(.confidence, _)? = layer.routeRule?.value, branch.name.value != layer.branches.last?.name.value,
                let blind = layers[0].entries.map({ resolver.models[$0.model] }).first(where: { !$0.supportsLogprobs })
            {
                report(
                    .routeMeasure,
                    "the cascade weighs branch '\(branch.name.value)' by its answer's confidence, but model '\(blind.name)' does not declare log-probabilities",
                    at: branch.name.range,
                    notes: [DiagnosticNote("declare 'capabilities: { logprobs: true }' on the model, or use 'measure: agreement'")])
            }
        }
        draft.poolOut = pools.isEmpty ? PoolRange(0, 0) : PoolRange(pools.map(\.min).min()!, pools.map(\.max).max()!)
        guard let rule = layer.routeRule else {
            draft.resolved = false
            return
        }
        checkRouteRule(rule, branches: layer.branches, layer: layer, &draft)
    }

    private mutating func checkRouteRule(_ rule: Located<RouteRule>, branches: [BranchSyntax], layer: LayerSyntax, _ draft: inout LayerDraft) {
        let names = branches.map(\.name.value)
        switch rule.value {
        case .cascade:
            if branches.count < 2 {
                report(
                    .unreachableBranch, "a cascade of one branch always answers from it", at: layer.kindRange,
                    notes: [DiagnosticNote("add a stronger branch to escalate to, or drop the route")])
            }
        case .match(let arms, let otherwise):
            var named: Set<String> = []
            var seen: [MatchArm.Condition: SourceRange] = [:]
            for arm in arms {
                checkBranchName(arm.branch, at: arm.range, names: names, &draft)
                named.insert(arm.branch)
                if let earlier = seen[arm.condition] {
                    report(
                        .unreachableBranch, "this arm can never fire: an earlier arm has the same condition", at: arm.range,
                        notes: [DiagnosticNote("the earlier arm", at: earlier)])
                } else {
                    seen[arm.condition] = arm.range
                }
            }
            checkBranchName(otherwise, at: rule.range, names: names, &draft)
            named.insert(otherwise)
            reportUnchosen(branches, named: named)
        case .classify(_, let table, let otherwise):
            for rating in table.keys.sorted() { checkBranchName(table[rating]!, at: rule.range, names: names, &draft) }
            checkBranchName(otherwise, at: rule.range, names: names, &draft)
            reportUnchosen(branches, named: Set(table.values).union([otherwise]))
        }
    }

    private mutating func reportUnchosen(_ branches: [BranchSyntax], named: Set<String>) {
        for branch in branches where !named.contains(branch.name.value) {
            report(
                .unreachableBranch, "nothing in the rule and not the default names branch '\(branch.name.value)': it never runs",
                at: branch.name.range, notes: [DiagnosticNote("let the rule choose it, or remove it")])
        }
    }

    private mutating func checkBranchName(_ name: String, at range: SourceRange, names: [String], _ draft: inout LayerDraft) {
        guard !names.contains(name) else { return }
        draft.resolved = false
        let suggestion = Suggestions.closest(to: name, in: names)
        report(
            .unknownBranch, "the route has no branch '\(name)'", at: range,
            notes: [DiagnosticNote("its branches: \(names.joined(separator: ", "))")] + (suggestion.map { [DiagnosticNote("did you mean '\($0)'?")] } ?? []))
    }
}
