import Hummingbird
import Logging
import NIOCore
import Synchronization
import TaskBridgeCore

/// A strict fake of the GroupChat Workspace API on a real loopback port.
///
/// It enforces what the docs promise: a bearer token (`gck_` workspace key or `gcp_`
/// personal token), `400 Missing X-Workspace-Id header` for personal tokens without
/// one, `400` for unknown or mistyped fields, and the documented shapes of projects,
/// statuses, members, tasks, batch results and delegation. Every request is recorded
/// so tests can assert exactly what the bridge sent.
public final class GroupChatFake: Sendable {
    public typealias Recorded = RecordedRequest

    public static let workspaceKey = "gck_fake_workspace_key"
    public static let personalToken = "gcp_fake_personal_token"

    struct State {
        var workspace: FakeWorkspace
        var recorded: [Recorded] = []
        var chaos: FakeChaos
        var rng: SplitMix64
        var recordRequests: Bool
        /// Answers to writes by `Idempotency-Key`, when the fake honours the header.
        var idempotent: [String: Result<(Int, JSONValue), FakeWorkspace.Failure>]?
    }

    private let state: Mutex<State>
    private let server = LoopbackServer(label: "groupchat-fake")

    public init(workspace: FakeWorkspace = .standard(), chaos: FakeChaos = .none, seed: UInt64 = 42, recordRequests: Bool = true) {
        state = Mutex(State(workspace: workspace, chaos: chaos, rng: SplitMix64(state: seed), recordRequests: recordRequests))
    }

    public var port: Int { server.port }
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public func setChaos(_ chaos: FakeChaos) { state.withLock { $0.chaos = chaos } }
    /// Answers a repeated `Idempotency-Key` on a write with the first answer, applying
    /// nothing, as APIs that honour the header do.
    public func honourIdempotencyKeys() { state.withLock { $0.idempotent = $0.idempotent ?? [:] } }
    public var workspace: FakeWorkspace { state.withLock { $0.workspace } }
    public var tasks: [[String: JSONValue]] { state.withLock { $0.workspace.allTasks } }
    public var requests: [Recorded] { state.withLock { $0.recorded } }
    public func requests(_ method: String, _ path: String) -> [Recorded] {
        requests.filter { $0.method == method && $0.path == path }
    }
    public func mutate(_ body: (inout FakeWorkspace) -> Void) { state.withLock { body(&$0.workspace) } }
    public func clearRecorded() { state.withLock { $0.recorded.removeAll() } }

    /// Starts listening on `port` (0 picks a free one) and returns once it accepts.
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws {
        try await server.start(host: host, port: port, methods: [.get, .post, .patch, .delete]) { req, ctx in try await self.handle(req, ctx) }
    }

    public func stop() async { await server.stop() }

    /// Runs until cancelled (for `tb-bench fake-groupchat`).
    public func runForever(host: String, port: Int) async throws {
        try await start(host: host, port: port)
        try await server.wait()
    }

    func json(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.serializeBytes(value))))
    }

    func error(_ status: Int, _ message: String) -> Response {
        json(HTTPResponse.Status(code: status), ["error": .string(message)])
    }

    func handle(_ request: Request, _ context: FakeRequestContext) async throws -> Response {
        let path = request.uri.path
        let method = request.method.rawValue
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let bodyBuffer = try await request.body.collect(upTo: 8 << 20)
        let bodyBytes = Array(buffer: bodyBuffer)
        var body: JSONValue?
        if !bodyBytes.isEmpty {
            guard let parsed = try? JSONParser.parse(bodyBytes) else { return record(method, path, request, headers, nil, error(400, "Invalid JSON body")) }
            body = parsed
        }
        // Auth first, as the real API does.
        let auth = headers["authorization"] ?? ""
        let token = auth.hasPrefix("Bearer ") ? String(auth.dropFirst(7)) : ""
        let ws = state.withLock { $0.workspace.workspaceId }
        var user = "api"
        if token == Self.personalToken {
            guard let wsHeader = headers["x-workspace-id"], !wsHeader.isEmpty else {
                return record(method, path, request, headers, body, error(400, "Missing X-Workspace-Id header"))
            }
            guard wsHeader == ws else { return record(method, path, request, headers, body, error(403, "Not a member of this workspace")) }
            user = "user_ada"
        } else if token != Self.workspaceKey {
            return record(method, path, request, headers, body, error(401, "Unauthorized"))
        }
        if let body, request.method != .get, body.objectValue == nil {
            return record(method, path, request, headers, body, error(400, "Body must be a JSON object"))
        }
        let draw = state.withLock { s -> FakeChaos.Draw in
            if let only = s.chaos.only, !only.contains("\(method) \(path)") { return .normal }
            return s.chaos.draw(Double(s.rng.next() >> 11) / Double(1 << 53))
        }
        let chaos = state.withLock { $0.chaos }
        switch draw {
        case .serverError:
            return record(method, path, request, headers, body, error(500, "Internal error (injected)"))
        case .rateLimited:
            return record(method, path, request, headers, body,
                          json(.tooManyRequests, ["error": "Rate limited (injected)"], headers: [.retryAfter: String(chaos.retryAfterSeconds)]))
        case .reset:
            _ = record(method, path, request, headers, body, nil)
            context.channel.close(promise: nil)
            return error(500, "reset")
        default:
            break
        }
        if draw == .slow, chaos.slowBeforeApplying {
            try? await Task.sleep(nanoseconds: UInt64(chaos.slowSeconds * 1e9))
        }
        let response = route(method, path, request.uri.queryParameters, body?.objectValue ?? [:], user: user,
                             idempotencyKey: method == "GET" ? nil : headers["idempotency-key"])
        switch draw {
        case .acceptedThenReset:
            _ = record(method, path, request, headers, body, nil)
            context.channel.close(promise: nil)
            return response
        case .slow where !chaos.slowBeforeApplying:
            try? await Task.sleep(nanoseconds: UInt64(chaos.slowSeconds * 1e9))
        default:
            break
        }
        return record(method, path, request, headers, body, response)
    }

    @discardableResult
    func record(_ method: String, _ path: String, _ request: Request, _ headers: [String: String], _ body: JSONValue?,
                _ response: Response?) -> Response {
        state.withLock { s in
            guard s.recordRequests else { return }
            s.recorded.append(Recorded(method: method, path: path, query: request.uri.query ?? "", headers: headers, body: body,
                                       status: response.map { Int($0.status.code) }))
        }
        return response ?? error(500, "dropped")
    }

    func route(_ method: String, _ path: String, _ query: Parameters, _ body: [String: JSONValue], user: String,
               idempotencyKey: String?) -> Response {
        let result: Result<(Int, JSONValue), FakeWorkspace.Failure> = state.withLock { s in
            if let key = idempotencyKey, let cached = s.idempotent?[key] { return cached }
            let result = apply(&s, method, path, query, body, user: user)
            if let key = idempotencyKey, s.idempotent != nil { s.idempotent?[key] = result }
            return result
        }
        switch result {
        case .success(let (status, value)): return json(HTTPResponse.Status(code: status), value)
        case .failure(let f): return error(f.status, f.message)
        }
    }

    private func apply(_ s: inout State, _ method: String, _ path: String, _ query: Parameters, _ body: [String: JSONValue],
                       user: String) -> Result<(Int, JSONValue), FakeWorkspace.Failure> {
            do throws(FakeWorkspace.Failure) {
                switch (method, path) {
                case ("GET", "/api/v1/projects"): return .success((200, .array(s.workspace.projects)))
                case ("GET", "/api/v1/statuses"):
                    var list = s.workspace.statuses
                    if let p = query.get("projectId") { list = list.filter { $0["projectId"]?.stringValue == p } }
                    return .success((200, .array(list)))
                case ("GET", "/api/v1/members"): return .success((200, .array(s.workspace.members)))
                case ("GET", "/api/v1/agents"): return .success((200, .array(s.workspace.agents)))
                case ("GET", "/api/v1/tasks"):
                    var list = s.workspace.allTasks
                    if let p = query.get("projectId") { list = list.filter { $0["projectId"]?.stringValue == p } }
                    if let st = query.get("stageId") { list = list.filter { $0["stageId"]?.stringValue == st } }
                    return .success((200, .array(list.map(JSONValue.object))))
                case ("POST", "/api/v1/tasks"): return .success((200, try s.workspace.createTask(body, creator: user)))
                case ("PATCH", "/api/v1/tasks"): return .success((200, try s.workspace.updateTask(body)))
                case ("DELETE", "/api/v1/tasks"):
                    try FakeWorkspace.rejectUnknown(body, allowed: ["id"])
                    try s.workspace.deleteTask(body["id"]?.stringValue ?? "")
                    return .success((200, ["ok": true]))
                case ("POST", "/api/v1/tasks/batch"):
                    let p = s.chaos.batchOperationError
                    var rng = s.rng
                    defer { s.rng = rng }
                    return .success((200, try s.workspace.batch(body, failing: { _ in Double(rng.next() >> 11) / Double(1 << 53) < p })))
                case ("POST", "/api/v1/agents/delegate"): return .success((200, try s.workspace.delegate(body, owner: user)))
                default:
                    if method == "DELETE", path.hasPrefix("/api/v1/tasks/") {
                        try s.workspace.deleteTask(String(path.dropFirst("/api/v1/tasks/".count)))
                        return .success((200, ["ok": true]))
                    }
                    return .failure(FakeWorkspace.Failure(404, "Not found: \(method) \(path)"))
                }
            } catch {
                return .failure(error)
            }
    }
}

/// Request context that keeps the channel, so the fake can drop a connection.
public struct FakeRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    public var maxUploadSize: Int { 8 << 20 }
}
