/// Every diagnostic Strata can report, with a stable code. Codes never change
/// meaning once released; `E` codes are errors, `W` codes warnings. The table
/// in `Grammar/README.md` is kept in sync with this list by a test.
public enum DiagnosticCode: String, Codable, Sendable, CaseIterable {
    // YAML front end
    case yamlSyntax = "E001"
    case multipleDocuments = "E002"
    case duplicateKey = "E003"
    case badAlias = "E004"
    case aliasExpansionTooLarge = "E005"
    case complexKey = "E006"
    case unreadableFile = "E007"
    case includeCycle = "E008"
    case limitExceeded = "E009"

    // Structure of the language
    case unknownKey = "E010"
    case wrongType = "E011"
    case missingKey = "E012"
    case outOfRange = "E013"
    case unknownValue = "E014"
    case unsupportedVersion = "E015"
    case missingVersion = "W016"
    case layerKind = "E017"
    case noLayers = "E018"
    case includedFileContent = "E019"

    // Models and providers
    case undeclaredModel = "E020"
    case duplicateModel = "E021"
    case unusedModel = "W022"
    case missingCapability = "E023"
    case providerSetting = "E024"
    case promptPlaceholder = "E025"

    // Composition rules (semantics.md)
    case ensemblePlacement = "E030"
    case topKExceedsPool = "E031"
    case rankKeepsEverything = "W032"
    case topKMayExceedPool = "W033"
    case possiblyEmptyPool = "E034"
    case finalPoolMayBeEmpty = "E035"
    case finalPoolMultiple = "W036"
    case critiqueUnread = "W037"
    case largeFuse = "W038"
    case contextOverflow = "E039"
    case identicalSamples = "W040"
    case firstKNeverStops = "W041"
    case tooManyCalls = "E042"
    case fewVoters = "W043"
    case earlyStopPlacement = "E044"
    case quorumExceedsSamples = "E045"

    // Budgets
    case budgetExceeded = "E050"

    // Search spaces
    case axisDomain = "E060"
    case searchExpression = "E061"
    case unknownAxis = "E062"
    case templateDirective = "E063"
    case unusedAxis = "W064"
    case noFeasibleConfiguration = "E065"
    case feasibilityUnproven = "W066"

    /// The severity this code is always reported with.
    public var severity: Severity {
        rawValue.hasPrefix("E") ? .error : .warning
    }

    /// One line saying what the code means, for references and `--format json` readers.
    public var summary: String {
        switch self {
        case .yamlSyntax: "the file is not valid YAML"
        case .multipleDocuments: "a pipeline file holds exactly one YAML document"
        case .duplicateKey: "a key appears twice in one mapping"
        case .badAlias: "an alias names an unknown anchor or refers to its own enclosing node"
        case .aliasExpansionTooLarge: "aliases expand to too many nodes (billion-laughs guard)"
        case .complexKey: "mapping keys must be scalars"
        case .unreadableFile: "a file (the pipeline or an include) cannot be read"
        case .includeCycle: "files include each other in a cycle"
        case .limitExceeded: "the input exceeds a limit on size, nesting depth, expansion or arithmetic"
        case .unknownKey: "a key the language does not define"
        case .wrongType: "a value of the wrong type"
        case .missingKey: "a required key is missing"
        case .outOfRange: "a number outside its allowed range"
        case .unknownValue: "a value outside the allowed set"
        case .unsupportedVersion: "the `strata:` version is not one this tool reads"
        case .missingVersion: "the file has no `strata:` version key"
        case .layerKind: "a layer must name exactly one kind"
        case .noLayers: "a pipeline needs at least one layer"
        case .includedFileContent: "an included file may only declare models and defaults"
        case .undeclaredModel: "a layer names a model that is not declared"
        case .duplicateModel: "a model name is declared twice"
        case .unusedModel: "a model is declared but no layer uses it"
        case .missingCapability: "the model's provider lacks a capability the layer needs"
        case .providerSetting: "a provider setting is missing or malformed"
        case .promptPlaceholder: "a prompt override uses an unknown placeholder or lacks a required one"
        case .ensemblePlacement: "ensemble must be the first layer and appear only once"
        case .topKExceedsPool: "top_k is larger than the largest pool the layer can receive"
        case .rankKeepsEverything: "a rank that keeps every candidate only reorders"
        case .topKMayExceedPool: "top_k is larger than the smallest pool the layer can receive"
        case .possiblyEmptyPool: "a layer that needs candidates follows one that can leave none"
        case .finalPoolMayBeEmpty: "the last layer can leave no answer"
        case .finalPoolMultiple: "the last layer can leave more than one candidate; the first is the answer"
        case .critiqueUnread: "critiques are made but no later layer reads them"
        case .largeFuse: "more than 24 candidates go into one fuse call"
        case .contextOverflow: "a prompt can exceed the model's context window"
        case .identicalSamples: "repeated samples at temperature 0 give identical candidates"
        case .firstKNeverStops: "first_k is at least the pool size, so verify never stops early"
        case .tooManyCalls: "the pipeline expands to more calls per query than Strata will compile"
        case .earlyStopPlacement: "a vote's early_stop draws the ensemble's samples in waves, so the vote must come right after the ensemble"
        case .quorumExceedsSamples: "an ensemble's quorum is more than the samples it draws"
        case .fewVoters: "a vote over fewer than three candidates cannot break a tie by majority"
        case .budgetExceeded: "the worst case of a query exceeds the declared budget"
        case .axisDomain: "a search axis has no values or a malformed domain"
        case .searchExpression: "an expression in a search space does not parse or cannot be evaluated"
        case .unknownAxis: "a name in a search space is neither an axis declared before it nor a loop variable"
        case .templateDirective: "a `$` directive in a pipeline template is misplaced or malformed"
        case .unusedAxis: "an axis is never read by the pipeline template"
        case .noFeasibleConfiguration: "no configuration of the search space passes the checker and the budget"
        case .feasibilityUnproven: "`strata check` found no feasible configuration among those it compiled; the rest are unchecked"
        }
    }
}
