// Scorer throughput on 10,000 items (numeric and exact): it should be far
// below model time. Run in release: `swift run -c release EvalBenchmark`.
import Foundation
import Strata

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

let count = 10_000
var items: [DatasetItem] = []
var answers: [String] = []
for index in 0..<count {
    let value = Double(index * 37 % 5003) / 4
    let reference = value == value.rounded() ? String(Int(value)) : String(value)
    items.append(DatasetItem(id: "item-\(index)", query: Query(prompt: "q"), reference: reference))
    // Realistic answers: reasoning, a thousands separator now and then, the final answer last.
    let shown = index % 3 == 0 ? "1,\(String(format: "%03d", index % 1000))" : reference
    answers.append(
        "First we compute \(index % 17) times \(index % 13), then add \(index % 7). Step 2: the total is \(shown). So the answer is #### \(index % 5 == 0 ? "0" : reference)"
    )
}

for scorer in [Scorer.numeric, .exact, .normalized] {
    var correct = 0.0
    let start = now()
    for (item, answer) in zip(items, answers) {
        correct += await scorer.score(answer: answer, item: item).score
    }
    let elapsed = now() - start
    print(String(format: "%@: %d items in %.3f s, %.1f µs per item (%.0f correct)", scorer.description, count, elapsed, elapsed / Double(count) * 1e6, correct))
}
