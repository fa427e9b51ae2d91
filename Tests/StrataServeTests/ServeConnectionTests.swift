import Foundation
import StrataServe
import StrataTestServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Idle and slow clients cannot deny service: connections beyond the caps are closed at once, an idle one (or
/// one whose request head never ends) is closed after the idle timeout, and an authenticated client is served.
@Suite struct ServeConnectionTests {
    @Test(.timeLimit(.minutes(2))) func idleClientsCannotStarveOthers() async throws {
        let upstream = try ScriptedLLMServer()
        let harness = try await ServeHarness([("alpha", "  - ensemble: [{ model: m, samples: 1 }]\n")], upstream: upstream) {
            $0.idleTimeout = 1
            $0.maxConnectionsPerAddress = 8
        }
        // Twenty half-open requests from another loopback address: the head never ends.
        var sockets: [Int32] = []
        for _ in 0..<20 {
            let socket = try #require(RawClient.connect(from: "127.0.0.2", toPort: harness.port))
            RawClient.send(socket, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            sockets.append(socket)
        }
        defer { sockets.forEach { close($0) } }
        let served = try await harness.chat()
        #expect(served.status == 200)
        // Beyond the per-address cap, connections were closed at once; the rest are closed by the idle timeout.
        let closedAtOnce = sockets.filter { RawClient.isClosed($0, within: 0.5) }.count
        #expect(closedAtOnce >= 12, "\(closedAtOnce) of 20 closed at once")
        let closedLater = sockets.filter { RawClient.isClosed($0, within: 5) }.count
        #expect(closedLater == 20)
        await harness.stop()
    }
}

enum RawClient {
    static func connect(from source: String, toPort port: Int) -> Int32? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, size) } }
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, size) } }
        guard bound == 0, connected == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    static func send(_ descriptor: Int32, _ text: String) {
        _ = text.withCString { Glibc.send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// True when the server closed the connection (a read of 0 bytes, or a reset) within `seconds`.
    static func isClosed(_ descriptor: Int32, within seconds: Double) -> Bool {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }
}
