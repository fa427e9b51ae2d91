import Foundation
import StrataTestServer
import StrataTestSupport
import Testing

/// Issue 10's data-loss and main-job classes, through the real binary: a second
/// writer, a full disk, Ctrl-C, failed items, odd JSONL, and a fuse whose every
/// call fails or is cut short.
@Suite struct BatchSafetyTests {

    func lines(_ path: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test func crlfIntegerIdsAndBadLinesAreHandled() async throws {
        let server = try ScriptedLLMServer()
        let directory = try temporaryDirectory()
        let pipeline = try StrataRunTests().writePipeline(server, in: directory)
        let input = directory.appendingPathComponent("items.jsonl").path
        let output = directory.appendingPathComponent("answers.jsonl").path
        try "{\"id\": 7, \"prompt\": \"seven\"}\r\n{\"id\": \"b\", \"prompt\": \"bee\"}\r\n".write(toFile: input, atomically: true, encoding: .utf8)
        let run = try await StrataBinary.run(["run", pipeline, "--input", input, "--output", output, "--cache", "off"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let ids = lines(output).map { $0["id"] }
        #expect(ids.contains { ($0 as? NSNumber)?.intValue == 7 && !($0 is String) })
        #expect(ids.contains { ($0 as? String) == "b" })

        try "{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": true, \"prompt\": \"y\"}\n".write(toFile: input, atomically: true, encoding: .utf8)
        let refused = try await StrataBinary.run(["run", pipeline, "--input", input, "--output", output], in: directory)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("items.jsonl:2: 'id' must be a string or an integer"), "\(refused.stderr)")

        let same = try await StrataBinary.run(["run", pipeline, "--input", input, "--output", input], in: directory)
        #expect(same.status != 0)
        #expect(same.stderr.contains("same file"))
    }

    @Test func aSecondWriterIsRefusedAndAFullDiskStopsCleanly() async throws {
        let server = try ScriptedLLMServer(latency: 0.3)
        let directory = try temporaryDirectory()
        let pipeline = try StrataRunTests().writePipeline(server, in: directory)
        let input = directory.appendingPathComponent("items.jsonl").path
        let output = directory.appendingPathComponent("answers.jsonl").path
        // 12 items one at a time, several 0.3 s calls each: the first run writes for seconds.
        try (0..<12).map { #"{"id": "i\#($0)", "prompt": "q\#($0)"}"# }.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let arguments = ["run", pipeline, "--input", input, "--output", output, "--cache", "off", "--concurrency", "1"]
        let first = try StrataBinary.start(arguments, in: directory)
        // The second starts once the first is writing (on a loaded machine a fixed sleep may find it not yet started, or done).
        let writing = await eventually(within: 60) { !lines(output).isEmpty }
        #expect(writing)
        let second = try await StrataBinary.run(arguments, in: directory)
        #expect(second.status != 0)
        #expect(second.stderr.contains("being written by another strata run"), "\(second.stderr)")
        await waitForExit(first)
        #expect(first.terminationStatus == 0)
        #expect(Set(lines(output).compactMap { $0["id"] as? String }) == Set((0..<12).map { "i\($0)" }))

        // /dev/full fails every write with ENOSPC, as a full disk does.
        let full = try await StrataBinary.run(["run", pipeline, "--input", input, "--output", "/dev/full", "--cache", "off"], in: directory)
        #expect(full.status != 0)
        #expect(full.stderr.contains("stopped: cannot write /dev/full"), "\(full.stderr)")
    }

    @Test func interruptedItemsAreNotRecordedAndFailedOnesCanBeRetried() async throws {
        // The fuse fails for every item on the first run (on_failure: fail), then works.
        let fail = LockedFlag(true)
        let server = try ScriptedLLMServer(latency: 0.1) { request, _ in
            fail.value && request.promptText.contains("Synthesize") ? .status(400, message: "no") : .text(ScriptedLLMServer.defaultAnswer(for: request))
        }
        let directory = try temporaryDirectory()
        let pipeline = directory.appendingPathComponent("p.yaml").path
        try """
        strata: 1
        models:
          m: { provider: openai-compatible, model: test, base_url: "\(server.baseURL)", limits: { max_in_flight: 4 } }
        layers:
          - ensemble: [{ model: m, samples: 2 }]
          - fuse: { models: [m], on_failure: fail }
        """.write(toFile: pipeline, atomically: true, encoding: .utf8)
        let input = directory.appendingPathComponent("items.jsonl").path
        let output = directory.appendingPathComponent("answers.jsonl").path
        try (0..<3).map { #"{"id": "i\#($0)", "prompt": "q\#($0)"}"# }.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let arguments = ["run", pipeline, "--input", input, "--output", output, "--cache", "off"]
        let failed = try await StrataBinary.run(arguments, in: directory)
        #expect(failed.status == 1, "items remain, so the exit status says so")
        #expect(lines(output).allSatisfy { $0["failure"] != nil })
        fail.value = false
        let plainRerun = try await StrataBinary.run(arguments, in: directory)
        #expect(plainRerun.status == 1, "failed items still have no answer")
        #expect(plainRerun.stderr.contains("--retry-failed"))
        let retried = try await StrataBinary.run(arguments + ["--retry-failed"], in: directory)
        #expect(retried.status == 0, "\(retried.stderr)")
        #expect(Set(lines(output).filter { $0["answer"] != nil }.compactMap { $0["id"] as? String }) == ["i0", "i1", "i2"])

        // SIGINT mid-batch: nothing in flight is written as a "cancelled" failure.
        let slow = try ScriptedLLMServer(latency: 3.0)  // the batch outlasts a loaded machine's delay before the signal
        let slowPipeline = try StrataRunTests().writePipeline(slow, in: directory)
        let output2 = directory.appendingPathComponent("answers2.jsonl").path
        let log = directory.appendingPathComponent("interrupted.log")
        let process = try StrataBinary.start(["run", slowPipeline, "--input", input, "--output", output2, "--cache", "off"], in: directory, log: log)
        // Once the batch has started (Ctrl-C is caught from before then), while its calls are in flight.
        let deadline = Date().addingTimeInterval(60)
        while !((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("to go"), Date() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        try await Task.sleep(nanoseconds: 300_000_000)
        kill(process.processIdentifier, SIGINT)
        await waitForExit(process)
        #expect(process.terminationStatus != 0)
        #expect(lines(output2).allSatisfy { ($0["failure"] as? String) != "cancelled" })
    }

    @Test func theFuseFallsBackAndATruncatedAnswerSaysSo() async throws {
        let server = try ScriptedLLMServer { request, _ in
            if request.promptText.contains("Synthesize") {
                return .raw(status: 200, contentType: "application/json", body: #"{"choices":[{"message":{"content":""},"finish_reason":"stop"}]}"#)
            }
            if request.promptText.contains("Rank the") { return .text(ScriptedLLMServer.defaultAnswer(for: request)) }
            return .raw(
                status: 200, contentType: "application/json",
                body: #"{"choices":[{"message":{"content":"a cut"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":32}}"#)
        }
        let directory = try temporaryDirectory()
        let pipeline = try StrataRunTests().writePipeline(server, in: directory)
        let run = try await StrataBinary.run(["run", pipeline, "--prompt", "Hello", "--cache", "off"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix("a cut"))
        #expect(run.stderr.contains("passing on the best candidate it was given"), "\(run.stderr)")
        #expect(run.stderr.contains("stopped at its max_tokens limit"), "\(run.stderr)")
        // Empty replies were asked again with fresh seeds before falling back: 1 + 2 retries.
        #expect(server.requests.filter { $0.promptText.contains("Synthesize") }.count == 3)
    }
}
