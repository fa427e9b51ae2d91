import Foundation
import StrataChecker

/// Reads the structured parts of model replies: rankings, critiques,
/// verdicts, test lists and test grades. Each parser says when it had to
/// repair or could not read a reply, so the trace can record it.
enum ReplyParsers {
    struct Ranking: Equatable {
        /// 0-based candidate indices, best first, a permutation of 0..<n.
        var order: [Int]
        /// What was repaired, or nil when the reply was a clean permutation.
        var repair: String?
    }

    /// The first permutation in `text` (`[4] > [2] > …`, or JSON `{"ranking": [4, 2, …]}`),
    /// repaired deterministically: out-of-range and repeated ids dropped, missing ids
    /// appended in input order. Nil when no id can be read at all.
    static func ranking(_ text: String, count n: Int) -> Ranking? {
        var ids: [Int] = []
        if let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let list = object["ranking"] as? [Any]
        {
            ids = list.compactMap { ($0 as? Int) ?? Int(($0 as? String)?.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")) ?? "") }
        } else {
            ids = bracketedNumbers(in: firstRankingLine(text))
        }
        guard !ids.isEmpty else { return nil }
        var seen = Set<Int>()
        var order: [Int] = []
        var problems: [String] = []
        for id in ids {
            guard (1...n).contains(id) else { problems.append("id \(id) is out of range 1…\(n)"); continue }
            guard seen.insert(id).inserted else { problems.append("id \(id) is repeated"); continue }
            order.append(id - 1)
        }
        let missing = (0..<n).filter { !seen.contains($0 + 1) }
        if !missing.isEmpty {
            problems.append("ids \(missing.map { String($0 + 1) }.joined(separator: ", ")) are missing (appended in input order)")
            order += missing
        }
        guard !seen.isEmpty else { return nil }
        return Ranking(order: order, repair: problems.isEmpty ? nil : problems.joined(separator: "; "))
    }

    /// The line holding the ranking: the first with a `>` between bracketed ids, else the whole text.
    private static func firstRankingLine(_ text: String) -> String {
        for line in text.split(separator: "\n") where line.contains(">") && line.contains("[") { return String(line) }
        return text
    }

    static func bracketedNumbers(in text: String) -> [Int] {
        var numbers: [Int] = []
        var index = text.startIndex
        while let open = text[index...].firstIndex(of: "[") {
            guard let close = text[open...].firstIndex(of: "]") else { break }
            if let number = Int(text[text.index(after: open)..<close].trimmingCharacters(in: .whitespaces)) { numbers.append(number) }
            index = text.index(after: close)
        }
        return numbers
    }

    /// The reply as a JSON object, when it is one (structured output).
    static func json(_ text: String) -> [String: Any]? {
        guard text.first(where: { !$0.isWhitespace }) == "{", let data = text.data(using: .utf8) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// Splits a critique reply into exactly `n` critiques: JSON `{"critiques": [...]}`,
    /// or one `[i]` section each; nil otherwise.
    static func critiques(_ text: String, count n: Int) -> [String]? {
        if let object = json(text), let list = object["critiques"] as? [[String: Any]] {
            guard list.count == n else { return nil }
            return list.map { "Strengths: \($0["strengths"] as? String ?? "")\nWeaknesses: \($0["weaknesses"] as? String ?? "")" }
        }
        var sections: [Int: String] = [:]
        var current: Int?
        var buffer: [Substring] = []
        func flush() {
            if let current, sections[current] == nil {
                sections[current] = buffer.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            }
            buffer.removeAll()
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " || $0 == "*" || $0 == "#" }
            if trimmed.hasPrefix("["), let close = trimmed.firstIndex(of: "]"),
                let number = Int(trimmed[trimmed.index(after: trimmed.startIndex)..<close]), (1...n).contains(number)
            {
                flush()
                current = number
                buffer = [trimmed[trimmed.index(after: close)...]]
                continue
            }
            buffer.append(line)
        }
        flush()
        guard sections.count == n else { return nil }
        return (1...n).map { sections[$0] ?? "" }
    }

    /// The verdict ending a verification reply: the last `[Correct]` or `[Incorrect]`.
    static func verdict(_ text: String) -> Bool? {
        if let verdict = json(text)?["verdict"] as? String {
            switch verdict.lowercased() {
            case "correct": return true
            case "incorrect": return false
            default: return nil
            }
        }
        let lowered = text.lowercased()
        let correct = lowered.range(of: "[correct]", options: .backwards)?.lowerBound
        let incorrect = lowered.range(of: "[incorrect]", options: .backwards)?.lowerBound
        switch (correct, incorrect) {
        case (nil, nil): return nil
        case (.some, nil): return true
        case (nil, .some): return false
        case (let c?, let i?): return c > i
        }
    }

    /// Natural-language tests: numbered lines `[1] …`, `1. …`, or `- …`.
    /// Statements for a judge, each cut to `TokenEstimate.judgedTestTokens`
    /// (the bound the checker counts on when tests are shown in later prompts).
    static func judgeTests(_ text: String) -> [String] {
        judgeTestLines(text).map(boundedTest)
    }

    static func boundedTest(_ test: String) -> String {
        let limit = TokenEstimate.judgedTestTokens * 4
        guard test.utf8.count > limit else { return test }
        var cut = ""
        for character in test {
            guard cut.utf8.count + character.utf8.count <= limit - 3 else { break }
            cut.append(character)
        }
        return cut + "…"
    }

    static func judgeTestLines(_ text: String) -> [String] {
        if let list = json(text)?["tests"] as? [String] {
            return list.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        }
        var tests: [String] = []
        for line in text.split(separator: "\n") {
            var body = line.trimmingCharacters(in: .whitespaces)
            if body.hasPrefix("["), let close = body.firstIndex(of: "]"), Int(body[body.index(after: body.startIndex)..<close]) != nil {
                body = String(body[body.index(after: close)...])
            } else if let dot = body.firstIndex(of: "."), Int(body[..<dot]) != nil {
                body = String(body[body.index(after: dot)...])
            } else if body.hasPrefix("- ") {
                body = String(body.dropFirst(2))
            } else {
                continue
            }
            let test = body.trimmingCharacters(in: .whitespaces)
            if !test.isEmpty { tests.append(test) }
        }
        return tests
    }

    /// How many tests a judge reply marks passed: per line `[i] [Passed]`, each test counted once.
    static func passedCount(_ text: String, tests: Int) -> Int {
        if let list = json(text)?["passed"] as? [Bool] {
            return min(tests, list.prefix(tests).filter { $0 }.count)
        }
        var passed = Set<Int>()
        var unnumbered = 0
        for line in text.split(separator: "\n") {
            let lowered = line.lowercased()
            guard lowered.contains("[passed]") else { continue }
            if let number = bracketedNumbers(in: String(line)).first, (1...max(1, tests)).contains(number) {
                passed.insert(number)
            } else {
                unnumbered += 1
            }
        }
        return min(tests, passed.count + unnumbered)
    }

    /// The code of a reply: the first fenced block (```python or plain ```), else the whole text.
    static func code(_ text: String) -> String {
        let blocks = fencedBlocks(text)
        return blocks.first ?? text
    }

    static func fencedBlocks(_ text: String) -> [String] {
        var blocks: [String] = []
        var inside = false
        var current: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                if inside { blocks.append(current.joined(separator: "\n")); current = [] }
                inside.toggle()
                continue
            }
            if inside { current.append(line) }
        }
        return blocks
    }

    /// Executable tests from a test writer's reply, wherever a small model puts
    /// them: in any fenced block (the solution often comes first), or unfenced;
    /// at the top level, inside a `check(candidate)` or `test_…` function, or in
    /// a unittest class (`self.assertEqual(a, b)` becomes `assert (a) == (b)`).
    /// Each test carries the imports and simple assignments it depends on; an
    /// assert inside a loop or `with` takes its whole statement; a function's
    /// parameter is bound to what the reply calls it with (`check(add)` makes
    /// `candidate = add`). Functions the reply defines are never copied (they
    /// would replace the candidate's).
    static func assertions(_ text: String) -> [String] {
        let blocks = fencedBlocks(text).filter { $0.contains("assert") }
        var tests: [String] = []
        for source in blocks.isEmpty ? [text] : blocks {
            for test in TestReader(source).tests() where !tests.contains(test) { tests.append(test) }
        }
        // A writer that wrote the function instead often kept the task's doctest examples: those are tests too.
        return tests.isEmpty ? TestReader.doctests(text) : tests
    }
}

/// The reply parsers, for tests and tools that read replies the same way the runtime does.
package enum ReplyParsersProbe {
    package static func assertions(_ text: String) -> [String] { ReplyParsers.assertions(text) }
    package static func verdict(_ text: String) -> Bool? { ReplyParsers.verdict(text) }
    package static func passed(_ text: String, tests: Int) -> Int { ReplyParsers.passedCount(text, tests: tests) }
    package static func critiques(_ text: String, count: Int) -> [String]? { ReplyParsers.critiques(text, count: count) }
    package static func ranking(_ text: String, count: Int) -> (order: [Int], repair: String?)? {
        ReplyParsers.ranking(text, count: count).map { ($0.order, $0.repair) }
    }
}
