import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The port of a model server on this machine (127.0.0.1, ::1, localhost),
/// probed with one plain connect: on loopback a refusal is instant and
/// final, so a server that is not running is said at once instead of after
/// the HTTP client's connection retries.
struct LoopbackListener {
    let host: String
    let port: UInt16

    var hostAndPort: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    init?(baseURL: String) {
        guard let components = URLComponents(string: baseURL), var host = components.host?.lowercased() else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard host == "localhost" || host == "::1" || host.hasPrefix("127.") else { return nil }
        let port = components.port ?? (components.scheme == "https" ? 443 : 80)
        guard let port = UInt16(exactly: port) else { return nil }
        self.host = host
        self.port = port
    }

    /// When each loopback server last answered. A probe costs a connection the server must
    /// accept too (it profiled at 7% of a zero-latency call), and a server that answered a moment
    /// ago is running; a call within a second of that is not probed.
    private static let lastAnswered = Mutex([String: ContinuousClock.Instant]())
    static let trustedFor = Duration.seconds(1)

    /// False only when every address of the host refused the connection.
    func isListening() async -> Bool {
        let key = hostAndPort
        if let answered = Self.lastAnswered.withLock({ $0[key] }), answered.duration(to: .now) < Self.trustedFor { return true }
        let host = host, port = port
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Self.connects(host: host, port: port)) }
        }
    }

    /// The server answered a call.
    func answered() {
        let key = hostAndPort, now = ContinuousClock.now
        Self.lastAnswered.withLock { $0[key] = now }
    }

    static func connects(host: String, port: UInt16) -> Bool {
        let addresses = host == "localhost" ? ["127.0.0.1", "::1"] : [host]
        for address in addresses {
            switch connect(address: address, port: port) {
            case false?: continue
            default: return true  // connected, or not a case this probe can judge
            }
        }
        return false
    }

    /// True when connected, false when refused, nil when the address could not be tried.
    static func connect(address: String, port: UInt16) -> Bool? {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        let family: Int32
        if inet_pton(AF_INET, address, &v4.sin_addr) == 1 {
            family = AF_INET
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
        } else if inet_pton(AF_INET6, address, &v6.sin6_addr) == 1 {
            family = AF_INET6
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
        } else {
            return nil
        }
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        let result =
            family == AF_INET
            ? withUnsafePointer(to: &v4) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            : withUnsafePointer(to: &v6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        if result == 0 { return true }
        return errno == ECONNREFUSED ? false : nil
    }
}
