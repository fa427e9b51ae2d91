/// Runs `work` on each of `items`, at most `limit` at once, in order, and
/// hands each output to `handle` as it finishes; `handle` returning false, or
/// the caller being cancelled, starts no more (those in flight are
/// cancelled). The one loop of every item-by-item job: evaluations and batches.
func forEachConcurrently<Item: Sendable, Output: Sendable>(
    _ items: [Item], limit: Int, _ work: @escaping @Sendable (Item) async throws -> Output,
    handle: (Item, Output) async throws -> Bool
) async throws {
    try await withThrowingTaskGroup(of: (Item, Output).self) { group in
        var next = items.makeIterator()
        var stopped = false
        func launch() -> Bool {
            guard !stopped, let item = next.next() else { return false }
            group.addTask { (item, try await work(item)) }
            return true
        }
        for _ in 0..<max(1, limit) where launch() {}
        while let (item, output) = try await group.next() {
            if try await !handle(item, output) || Task.isCancelled {
                stopped = true
                group.cancelAll()
                continue
            }
            _ = launch()
        }
    }
}
