import StrataSpace

/// Coordinate ascent over the axes (the paper's "greedy" baseline): from a
/// random start, score every value of one axis with the others fixed, move
/// to the best, go on to the next axis; when a whole pass finds nothing
/// better, restart from a fresh random configuration.
///
/// The walk is replayed from the study's scores at every proposal rather
/// than kept in memory, so it resumes exactly and workers share it: the
/// values along one axis are proposed one by one and scored in parallel, and
/// the walk waits for all of them before it moves.
struct GreedyWalk: ConfigurationProposer {
    let plan: SearchPlan
    let seed: UInt64

    func propose(_ view: StudyView) -> Proposal {
        let encoded = plan.encoded
        guard encoded.count > 0 else { return .exhausted }
        var seen: [Int: Double] = [:]
        for observation in view.history(plan: plan) { seen[observation.index] = max(seen[observation.index] ?? -.infinity, observation.value) }
        let inFlight = Set(view.inFlight)
        /// The next of `line` to score, `wait` while only ones in flight are missing, nil when all are scored.
        func missing(_ line: [Int]) -> Proposal? {
            let unscored = line.filter { seen[$0] == nil }
            if let next = unscored.first(where: { !inFlight.contains($0) }) { return .configuration(next) }
            return unscored.isEmpty ? nil : .wait
        }
        var rng = SeededGenerator(seed: seed)
        let starts = Array(0..<encoded.count).shuffled(using: &rng)
        var visited = Set<Int>()
        for start in starts where !visited.contains(start) {
            var current = start
            visited.insert(start)
            if let proposal = missing([start]) { return proposal }
            var axis = 0
            var axesThisPass = 0
            var improvedThisPass = false
            while true {
                let line = neighbours(of: current, along: axis)
                visited.formUnion(line)
                if let proposal = missing(line) { return proposal }
                // The axis is scored: move to the best configuration along it.
                if let best = line.max(by: { (seen[$0] ?? -.infinity, -$0) < (seen[$1] ?? -.infinity, -$1) }),
                    (seen[best] ?? -.infinity) > (seen[current] ?? -.infinity)
                {
                    current = best
                    improvedThisPass = true
                }
                axis = (axis + 1) % max(1, encoded.axes.count)
                axesThisPass += 1
                if axesThisPass >= encoded.axes.count {
                    if !improvedThisPass { break }  // a local optimum: restart
                    axesThisPass = 0
                    improvedThisPass = false
                }
            }
        }
        return .exhausted
    }

    /// Feasible configurations that differ from `index` only on `axis` (and on
    /// axes that this one switches on or off).
    func neighbours(of index: Int, along axis: Int) -> [Int] {
        let encoded = plan.encoded
        guard encoded.axes.indices.contains(axis) else { return [] }
        let configuration = encoded.configurations[index]
        let name = encoded.axes[axis].name
        guard let value = configuration[name] else { return [] }
        return encoded.axes[axis].values.filter { $0 != value }.compactMap { other in
            encoded.index(of: plan.space.moving(configuration, axis: name, to: other))
        }
    }
}
