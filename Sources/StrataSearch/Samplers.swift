import StrataSpace

/// The search algorithms.
public enum SearchAlgorithm: String, Sendable, CaseIterable, Codable {
    /// Uniform over the feasible configurations, without repeats.
    case random
    /// Every feasible configuration in declaration order.
    case grid
    /// One axis at a time: try every value of an axis with the others fixed,
    /// keep the best, move to the next axis; restart when a pass finds nothing better.
    case greedy
    /// Tree-structured Parzen estimator: categorical and conditional axes natively.
    case tpe
}

/// A finished evaluation as a sampler sees it: the configuration's index in
/// the feasible set and its objective (higher is better).
struct Observation: Sendable, Hashable {
    var index: Int
    var value: Double

    init(index: Int, value: Double) {
        self.index = index
        self.value = value
    }
}

/// The feasible configurations with every axis value encoded as an index, so
/// samplers work on small integers.
struct EncodedSpace: Sendable {
    let axes: [Axis]
    let configurations: [Configuration]
    /// `codes[i][a]`: the index of configuration i's value on axis a, or -1 when inactive.
    let codes: [[Int]]
    let indexByKey: [String: Int]

    init(axes: [Axis], configurations: [Configuration]) {
        self.axes = axes
        self.configurations = configurations
        let values = axes.map(\.values)
        codes = configurations.map { configuration in
            axes.indices.map { a in configuration[axes[a].name].flatMap { values[a].firstIndex(of: $0) } ?? -1 }
        }
        indexByKey = Dictionary(configurations.enumerated().map { ($0.element.key, $0.offset) }, uniquingKeysWith: { first, _ in first })
    }

    var count: Int { configurations.count }

    func index(of configuration: Configuration) -> Int? { indexByKey[configuration.key] }
}

/// Proposes the next configuration to evaluate from what has been seen.
/// Samplers are deterministic given their generator and history.
protocol Sampler {
    /// The index of a feasible configuration not in `excluded`, or nil when none is left.
    mutating func next(history: [Observation], excluded: Set<Int>, rng: inout SeededGenerator) -> Int?
}

struct RandomSampler: Sampler {
    var count: Int

    mutating func next(history: [Observation], excluded: Set<Int>, rng: inout SeededGenerator) -> Int? {
        guard excluded.count < count else { return nil }
        while true {
            let index = Int.random(in: 0..<count, using: &rng)
            if !excluded.contains(index) { return index }
        }
    }
}

struct GridSampler: Sampler {
    var count: Int
    var position = 0

    init(count: Int) { self.count = count }

    mutating func next(history: [Observation], excluded: Set<Int>, rng: inout SeededGenerator) -> Int? {
        while position < count, excluded.contains(position) { position += 1 }
        return position < count ? position : nil
    }
}
