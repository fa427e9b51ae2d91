import StrataDiagnostics
import StrataSyntax
import StrataYAML

/// One value an axis can take.
public enum AxisValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case int(Int)
    case bool(Bool)
    case string(String)
    /// A number that is not an integer (0.7, 1e-3), kept as written so it goes
    /// into the template as a number: temperatures, early_stop levels.
    case number(String)
    /// A ranked model list's prefix: the models a configuration uses.
    case list([String])

    /// The value as the space file spells it.
    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .bool(let value): String(value)
        case .string(let value): value
        case .number(let value): value
        case .list(let values): "[" + values.joined(separator: ", ") + "]"
        }
    }

    /// As written in an expression (strings quoted).
    var expressionText: String {
        if case .string(let value) = self { return "'\(value)'" }
        return description
    }

    /// Integers as themselves, booleans as 0/1, lists as their length
    /// (expressions compute with integers only).
    var numericValue: Int? {
        switch self {
        case .int(let value): value
        case .bool(let value): value ? 1 : 0
        case .list(let values): values.count
        case .string, .number: nil
        }
    }
}

extension Optional where Wrapped == AxisValue {
    /// Conditions: false for an inactive axis, `false`, 0, "" and an empty list.
    var truthValue: Bool {
        switch self {
        case nil: false
        case .bool(let value)?: value
        case .int(let value)?: value != 0
        case .string(let value)?: !value.isEmpty && value != "none"
        case .number(let value)?: Double(value) != 0
        case .list(let values)?: !values.isEmpty
        }
    }
}

/// A named dimension of a search space.
public struct Axis: Sendable {
    /// The values an axis can take.
    public enum Domain: Sendable, Hashable {
        /// Unordered alternatives (`values: [...]`).
        case choice([AxisValue])
        /// `range: [low, high]` with `step:`; ordered.
        case integers(ClosedRange<Int>, step: Int)
        /// The first k models of a ranked list, for each k given; ordered by k.
        case topK(models: [String], k: [Int])
    }

    /// The axis name, as templates refer to it.
    public var name: String
    /// Its values.
    public var domain: Domain
    /// The axis only exists (varies) when this holds for the axes before it.
    var condition: SearchExpression?
    /// The `when:` condition that makes the axis apply, as written.
    public var conditionText: String?
    /// Where the axis is declared, for diagnostics.
    public var range: SourceRange

    /// An axis for a space defined in code (`SearchSpaceLoader.load(name:axes:pipeline:)`);
    /// `when` is an expression over the axes before it.
    public init(name: String, domain: Domain, when: String? = nil) {
        self.name = name
        self.domain = domain
        self.conditionText = when
        self.condition = nil
        self.range = .startOf("<code>")
    }

    init(name: String, domain: Domain, condition: SearchExpression?, conditionText: String?, range: SourceRange) {
        self.name = name
        self.domain = domain
        self.condition = condition
        self.conditionText = conditionText
        self.range = range
    }

    /// The axis as written in a search file.
    var yaml: String {
        func scalar(_ value: AxisValue) -> String {
            if case .string(let text) = value {
                return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            }
            return value.description
        }
        var fields: [String]
        switch domain {
        case .choice(let values): fields = ["values: [\(values.map(scalar).joined(separator: ", "))]"]
        case .integers(let bounds, let step): fields = ["range: [\(bounds.lowerBound), \(bounds.upperBound)]", "step: \(step)"]
        case .topK(let models, let ks):
            fields = ["top: [\(models.map { scalar(.string($0)) }.joined(separator: ", "))]", "k: [\(ks.map(String.init).joined(separator: ", "))]"]
        }
        if let conditionText { fields.append("when: \(scalar(.string(conditionText)))") }
        return "{ " + fields.joined(separator: ", ") + " }"
    }

    /// Every value, in order.
    /// How many values the axis has, without listing them.
    var valueCount: Int {
        switch domain {
        case .choice(let values): values.count
        case .integers(let bounds, let step): (bounds.upperBound - bounds.lowerBound) / step + 1
        case .topK(_, let ks): ks.count
        }
    }

    /// Every value of the domain, in order.
    public var values: [AxisValue] {
        switch domain {
        case .choice(let values): values
        case .integers(let bounds, let step): stride(from: bounds.lowerBound, through: bounds.upperBound, by: step).map(AxisValue.int)
        case .topK(let models, let ks): ks.map { .list(Array(models.prefix($0))) }
        }
    }

    /// Ordered axes let a model-based sampler share evidence between neighbours.
    public var isOrdered: Bool {
        if case .choice = domain { return false }
        return true
    }
}

/// An assignment of a value to every axis that is active under it.
public struct Configuration: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Active axes only; an axis whose condition fails is absent.
    public var values: [String: AxisValue]

    /// A configuration with the given axis values.
    public init(_ values: [String: AxisValue]) {
        self.values = values
    }

    /// The value of `axis`; nil when the axis does not apply.
    public subscript(axis: String) -> AxisValue? { values[axis] }

    /// A stable text form (axes sorted by name), used as the configuration's key in stores.
    public var key: String {
        values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: " ")
    }

    /// The configuration's canonical key: its axis values, sorted by name.
    public var description: String { key }
}

/// A family of pipelines: axes with domains and a pipeline template that reads them.
public struct SearchSpace: Sendable {
    /// The space's name.
    public var name: String
    /// What it explores, in prose.
    public var description: String?
    /// Its axes, in file order.
    public var axes: [Axis]
    /// The pipeline template (the `pipeline:` mapping), ranges pointing into `source`.
    var template: YAMLNode
    /// The per-query budget declared by the space (the `budget:` mapping), if any.
    var budget: YAMLNode?
    /// The space file.
    public var source: SourceFile
    /// Directories besides the space's own tree that its template's includes
    /// may read from (`--include-path`, `STRATA_INCLUDE_PATH`).
    package var includeRoots: [String] = SourceLoader.environmentIncludeRoots

    /// The space's own per-query budget as written ("calls 30"), or empty.
    public var budgetDescription: String {
        guard case .mapping(let pairs)? = budget?.content else { return "" }
        return pairs.map { "\($0.key.scalar?.value ?? "") \($0.value.scalar?.value ?? "")" }.joined(separator: ", ")
    }

    /// The most configurations a space may have: every one is listed and scored.
    public static let maxConfigurations = 200_000

    /// Every configuration, in declaration order of axes and values (the grid order).
    public func enumerate() -> [Configuration] {
        var result: [Configuration] = []
        func walk(_ index: Int, _ bindings: [String: AxisValue]) {
            guard index < axes.count else {
                result.append(Configuration(bindings))
                return
            }
            let axis = axes[index]
            if !isActive(axis, under: bindings) { return walk(index + 1, bindings) }
            for value in axis.values {
                var next = bindings
                next[axis.name] = value
                walk(index + 1, next)
            }
        }
        walk(0, [:])
        return result
    }

    /// Up to `count` distinct configurations drawn by a seeded walk over the
    /// axes (each active axis takes a pseudo-random value), without listing
    /// the grid: how `strata check` probes a large space.
    public func sample(_ count: Int, seed: UInt64 = 0x5EED) -> [Configuration] {
        var generator = SeededGenerator(seed: seed)
        let axisValues = axes.map(\.values)
        var seen = Set<Configuration>()
        var result: [Configuration] = []
        // Draws repeat in a small space; a few times `count` attempts find what there is.
        for _ in 0..<(count * 4) where result.count < count {
            var bindings: [String: AxisValue] = [:]
            for (axis, values) in zip(axes, axisValues) where isActive(axis, under: bindings) && !values.isEmpty {
                bindings[axis.name] = values.randomElement(using: &generator)
            }
            let configuration = Configuration(bindings)
            if seen.insert(configuration).inserted { result.append(configuration) }
        }
        return result
    }

    /// The number of configurations, without listing them.
    public var size: Int { enumerate().count }

    func isActive(_ axis: Axis, under bindings: [String: AxisValue]) -> Bool {
        guard let condition = axis.condition else { return true }
        return ((try? condition.evaluate(bindings)) ?? nil).truthValue
    }

    /// `configuration` with `axis` set to `value`, and the axes after it made
    /// consistent: an axis that becomes active takes its first value, one that
    /// becomes inactive is dropped. Greedy search moves along axes with this.
    public func moving(_ configuration: Configuration, axis name: String, to value: AxisValue) -> Configuration {
        var bindings: [String: AxisValue] = [:]
        for axis in axes {
            guard isActive(axis, under: bindings) else { continue }
            if axis.name == name {
                bindings[axis.name] = value
            } else {
                bindings[axis.name] = configuration[axis.name] ?? axis.values.first
            }
        }
        return Configuration(bindings)
    }
}
