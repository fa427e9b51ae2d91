/// "Did you mean …?" support: the closest candidate by edit distance, if close enough
/// to be a plausible typo.
package enum Suggestions {
    /// Words longer than this get no suggestion: keys and names are short, and
    /// the distance costs the product of the two lengths.
    package static let maxWordLength = 64

    package static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        let length = word.unicodeScalars.count
        guard length <= maxWordLength else { return nil }
        let lowered = word.lowercased()
        var best: (String, Int)?
        for candidate in candidates {
            // A length difference alone beyond a third of the word rules a candidate out.
            guard abs(candidate.unicodeScalars.count - length) <= max(1, length / 3) + 1 else { continue }
            let distance = editDistance(lowered, candidate.lowercased())
            if best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        guard let (candidate, distance) = best else { return nil }
        // Allow about one typo per three characters, and at least one.
        let allowed = max(1, min(word.count, candidate.count) / 3)
        return distance <= allowed ? candidate : nil
    }

    /// Damerau–Levenshtein distance (optimal string alignment), so a swap of two
    /// neighbouring letters costs one.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previousPrevious[j - 2] + 1)
                }
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[b.count]
    }
}
