import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// Whether a client is still there. A handler in every connection's pipeline
/// (`ConnectionWatcher`) marks the connection closed when the client closes
/// its side or the whole connection; a request being answered hears of it at
/// once and cancels its pipeline, and with it every upstream call in flight.
/// (Hummingbird's own `consumeWithCancellationOnInboundClose` does this by
/// reading the connection, which costs it keep-alive; this does not.)
final class ConnectionWatch: Sendable {
    private struct State {
        var closed = false
        var next: UInt64 = 0
        var callbacks: [UInt64: @Sendable () -> Void] = [:]
    }
    private let state = Mutex(State())

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Calls `callback` when the connection closes (at once if it has); the token removes it.
    func onClose(_ callback: @escaping @Sendable () -> Void) -> UInt64? {
        let token: UInt64? = state.withLock { state in
            guard !state.closed else { return nil }
            state.next += 1
            state.callbacks[state.next] = callback
            return state.next
        }
        if token == nil { callback() }
        return token
    }

    func remove(_ token: UInt64?) {
        guard let token else { return }
        state.withLock { _ = $0.callbacks.removeValue(forKey: token) }
    }

    func close() {
        let callbacks = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.closed else { return [] }
            state.closed = true
            defer { state.callbacks = [:] }
            return Array(state.callbacks.values)
        }
        for callback in callbacks { callback() }
    }

    /// Runs `operation` until it finishes or the client goes; nil when the client went.
    func run<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
        let task = Task { try await operation() }
        let token = onClose { task.cancel() }
        defer { remove(token) }
        let value = try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
        return isClosed ? nil : value
    }

    // The watches of open connections, by channel: how a request finds its connection's.
    private static let open = Mutex([ObjectIdentifier: ConnectionWatch]())

    static func of(_ channel: any Channel) -> ConnectionWatch? { open.withLock { $0[ObjectIdentifier(channel)] } }

    fileprivate static func register(_ channel: any Channel) -> ConnectionWatch {
        let watch = ConnectionWatch()
        open.withLock { $0[ObjectIdentifier(channel)] = watch }
        return watch
    }

    fileprivate static func unregister(_ channel: any Channel) { open.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(channel)) } }
}

/// The pipeline handler behind `ConnectionWatch`: one per connection, on its event loop.
final class ConnectionWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private var watch: ConnectionWatch?

    func handlerAdded(context: ChannelHandlerContext) {
        watch = ConnectionWatch.register(context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        ConnectionWatch.unregister(context.channel)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { watch?.close() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watch?.close()
        ConnectionWatch.unregister(context.channel)
        context.fireChannelInactive()
    }
}

/// The request context: Hummingbird's basics plus the connection's watch.
struct ServeRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let connection: ConnectionWatch?
    /// Minted once per request: its log line, its `x-request-id` and its runs in the trace are named by it.
    let requestID = "req_\(ServerState.randomID())"
    let startedAt = Date()
    /// What the handler learns on the way, for the middleware that finishes the request.
    let record = RequestRecord()

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        connection = ConnectionWatch.of(source.channel)
    }
}
