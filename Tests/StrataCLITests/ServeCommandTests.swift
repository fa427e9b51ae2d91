import AsyncHTTPClient
import Foundation
import NIOCore
import StrataTestServer
import StrataTestSupport
import Testing

/// `strata serve` as users start it: the real binary, real signals.
@Suite struct ServeCommandTests {
    func writePipeline(_ server: ScriptedLLMServer, in directory: URL) throws -> String {
        try writeEnsemblePipeline(named: "slow", samples: 1, server: server, in: directory)
    }

    /// Waits for the "listening" line on standard error; the port it names.
    func port(in log: URL) async throws -> Int {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"127\.0\.0\.1:(\d+)/v1"#, options: .regularExpression) {
                return Int(text[range].dropFirst("127.0.0.1:".count).dropLast(3))!
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw TestFailure("strata serve never said where it listens: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    func send(_ port: Int, _ path: String, json: String? = nil) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        if let json {
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    static let question = #"{"model": "slow", "messages": [{"role": "user", "content": "hi"}]}"#

    @Test func sigtermFinishesRequestsInFlightAndRefusesNewOnes() async throws {
        // The upstream holds its replies until the checks below are done, so the three stay in flight however loaded the machine is.
        let release = LockedFlag(false)
        let upstream = try ScriptedLLMServer { request, _ in
            .held(until: { release.value }, timeout: 120, .text(ScriptedLLMServer.defaultAnswer(for: request)))
        }
        let directory = try temporaryDirectory()
        let log = directory.appendingPathComponent("serve.log")
        let process = try StrataBinary.start(
            ["serve", try writePipeline(upstream, in: directory), "--port", "0", "--cache", "off", "--shutdown-grace", "20"], in: directory,
            log: log)
        defer { if process.isRunning { process.terminate() } }
        let port = try await port(in: log)
        var step = "sending three requests"
        do {
            let inFlight = (0..<3).map { _ in Task { try await send(port, "/v1/chat/completions", json: Self.question) } }
            #expect(await eventually(within: 30) { upstream.inFlight == 3 })
            step = "SIGTERM"
            kill(process.processIdentifier, SIGTERM)
            #expect(await eventually(within: 5) { (try? await send(port, "/health").status) == 503 })
            step = "a new request while draining"
            let refused = try await send(port, "/v1/chat/completions", json: Self.question)
            #expect(refused.status == 503)
            #expect(refused.body.contains("shutting_down"))
            step = "the requests in flight"
            release.value = true
            for request in inFlight { #expect(try await request.value.status == 200) }
        } catch {
            release.value = true
            Issue.record("\(step): \(error); the server said: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
        await waitForExit(process)
        #expect(process.terminationStatus == 0, "\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        #expect(upstream.requestCount == 3)
    }

    @Test func aPublicAddressNeedsKeysAndNamedKeysMustBeSet() async throws {
        let upstream = try ScriptedLLMServer()
        let directory = try temporaryDirectory()
        let pipeline = try writePipeline(upstream, in: directory)
        let open = try await StrataBinary.run(["serve", pipeline, "--host", "0.0.0.0", "--port", "0"], in: directory)
        #expect(open.status == 1)
        #expect(open.stderr.contains("refusing to serve on 0.0.0.0 without API keys"), "\(open.stderr)")
        let unset = try await StrataBinary.run(
            ["serve", pipeline, "--api-key-env", "STRATA_TEST_UNSET_KEYS", "--port", "0"], environment: ["STRATA_TEST_UNSET_KEYS": ""],
            in: directory)
        #expect(unset.status == 1)
        #expect(unset.stderr.contains("STRATA_TEST_UNSET_KEYS"))
        let broken = directory.appendingPathComponent("broken.yaml").path
        try "strata: 1\nlayers:\n  - ensemble: [{ model: nowhere }]\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let invalid = try await StrataBinary.run(["serve", broken, "--port", "0"], in: directory)
        #expect(invalid.status == 1)
        #expect(invalid.stderr.contains("error["), "a pipeline with errors is not served: \(invalid.stderr)")
    }
}
