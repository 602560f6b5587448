import Hummingbird
import Logging
import NIOCore
import Synchronization
import TaskBridgeCore

/// One request as a fake received it, so tests assert exactly what was sent.
public struct RecordedRequest: Sendable {
    public var method: String
    public var path: String
    public var query: String
    /// Header names are lowercased.
    public var headers: [String: String]
    public var body: JSONValue?
    /// The status the fake answered (nil when it dropped the connection).
    public var status: Int?
    /// The route template the fake matched, where it has them (e.g.
    /// `/api/projects/{project_id}/tasks/{id}/run/`).
    public var route: String?

    public init(method: String, path: String, query: String, headers: [String: String], body: JSONValue?, status: Int?,
                route: String? = nil) {
        self.route = route
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.status = status
    }
}

/// The loopback HTTP server every fake runs on: all methods of every path go to one
/// handler, on a real port (0 picks a free one).
final class LoopbackServer: Sendable {
    let label: String
    private let task = Mutex<Task<Void, any Error>?>(nil)
    private let portBox = Mutex<Int?>(nil)

    init(label: String) { self.label = label }

    var port: Int { portBox.withLock { $0 ?? 0 } }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts listening and returns once it accepts connections.
    func start(host: String, port: Int, methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete],
               handler: @escaping @Sendable (Request, FakeRequestContext) async throws -> Response) async throws {
        let router = Router(context: FakeRequestContext.self)
        for method in methods {
            router.on("/**", method: method) { req, ctx in try await handler(req, ctx) }
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: label)
        logger.logLevel = .warning
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
                              logger: logger)
        let running = Task { try await app.run() }
        task.withLock { $0 = running }
        for await p in stream {
            portBox.withLock { $0 = p }
            break
        }
    }

    func stop() async {
        let t = task.withLock { $0 }
        t?.cancel()
        _ = try? await t?.value
    }

    /// Waits until the server stops (for `tb-bench fake-groupchat`).
    func wait() async throws {
        try await task.withLock { $0 }?.value
    }
}
