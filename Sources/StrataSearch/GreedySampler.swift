import StrataSpace

/// Coordinate ascent over the axes (the paper's "greedy" baseline): from a
/// random start, evaluate every value of one axis with the others fixed, move
/// to the best, go on to the next axis; when a whole pass finds nothing
/// better, restart from a fresh random configuration.
struct GreedySampler: Sampler {
    let space: SearchSpace
    let encoded: EncodedSpace
    var current: Int?
    var axis = 0
    var queue: [Int] = []
    var queued: [Int] = []
    var improvedThisPass = false
    var axesThisPass = 0

    init(space: SearchSpace, encoded: EncodedSpace) {
        self.space = space
        self.encoded = encoded
    }

    mutating func next(history: [Observation], excluded: Set<Int>, rng: inout SeededGenerator) -> Int? {
        guard excluded.count < encoded.count else { return nil }
        let seen = Dictionary(history.map { ($0.index, $0.value) }, uniquingKeysWith: max)
        for _ in 0..<(4 * encoded.count + 8) {
            guard let current else {
                let start = RandomSampler(count: encoded.count)
                var random = start
                let index = random.next(history: history, excluded: excluded, rng: &rng)!
                self.current = index
                axis = 0
                axesThisPass = 0
                improvedThisPass = false
                queue = neighbours(of: index, along: axis)
                queued = queue
                return index
            }
            if let nextIndex = queue.first {
                queue.removeFirst()
                if !excluded.contains(nextIndex) { return nextIndex }
                continue
            }
            // The axis is done: move to the best configuration seen along it.
            let line = [current] + queued
            if let best = line.compactMap({ index in seen[index].map { (index, $0) } }).max(by: { $0.1 < $1.1 }), best.0 != current,
                best.1 > (seen[current] ?? -.infinity)
            {
                self.current = best.0
                improvedThisPass = true
            }
            axis = (axis + 1) % max(1, encoded.axes.count)
            axesThisPass += 1
            if axesThisPass >= encoded.axes.count {
                if !improvedThisPass {
                    self.current = nil  // a local optimum: restart
                    continue
                }
                axesThisPass = 0
                improvedThisPass = false
            }
            queue = neighbours(of: self.current!, along: axis)
            queued = queue
        }
        return nil
    }

    /// Feasible configurations that differ from `index` only on `axis` (and on
    /// axes that this one switches on or off).
    func neighbours(of index: Int, along axis: Int) -> [Int] {
        let configuration = encoded.configurations[index]
        let name = encoded.axes[axis].name
        guard let value = configuration[name] else { return [] }
        return encoded.axes[axis].values.filter { $0 != value }.compactMap { other in
            encoded.index(of: space.moving(configuration, axis: name, to: other))
        }
    }
}
