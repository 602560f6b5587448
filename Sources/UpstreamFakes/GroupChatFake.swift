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
///
/// It also serves the Agent API (`/api/v1/agent/*`) to agents holding a `gca_` token,
/// by Basic auth (`curl -u gca_TOKEN:`) or bearer; runs come from delegation on the
/// Workspace API or ``addAgentRun(agentUserId:taskId:prompt:)`` (state: ``FakeAgentRuns``).
public final class GroupChatFake: Sendable {
    public typealias Recorded = RecordedRequest

    public static let workspaceKey = "gck_fake_workspace_key"
    public static let personalToken = "gcp_fake_personal_token"
    /// Agent token of `agent-coder01` ("PostHog Coder").
    public static let coderAgentToken = "gca_fake_coder_token"
    /// Agent token of `agent-triage01` ("Triage Bot").
    public static let triageAgentToken = "gca_fake_triage_token"

    struct State {
        var workspace: FakeWorkspace
        var recorded: [Recorded] = []
        var chaos: FakeChaos
        var rng: SplitMix64
        var recordRequests: Bool
        /// Answers to writes by `Idempotency-Key`, when the fake honours the header.
        var idempotent: [String: Result<(Int, JSONValue), FakeWorkspace.Failure>]?
        /// Every authenticated request is answered with this status and message (an
        /// upstream that refuses everything until someone fixes it).
        var refusal: (status: Int, message: String)?
    }

    private let state: Mutex<State>
    private let server = LoopbackServer(label: "groupchat-fake")

    /// Serve `/_fake/…` control routes (for tests that drive the fake from another process).
    let control: Bool

    public init(workspace: FakeWorkspace = .standard(), chaos: FakeChaos = .none, seed: UInt64 = 42, recordRequests: Bool = true,
                control: Bool = false) {
        state = Mutex(State(workspace: workspace, chaos: chaos, rng: SplitMix64(state: seed), recordRequests: recordRequests))
        self.control = control
    }

    /// Answers every authenticated request with `status` until ``stopRefusing()``.
    public func refuseEverything(status: Int, message: String) { state.withLock { $0.refusal = (status, message) } }
    public func stopRefusing() { state.withLock { $0.refusal = nil } }

    /// `POST /_fake/refuse {"status": 400, "message": "…"}`, `DELETE /_fake/refuse` and
    /// `GET /_fake/tasks`.
    func controlRoute(_ method: String, _ path: String, _ body: JSONValue?) -> Response? {
        switch (method, path) {
        case ("POST", "/_fake/refuse"):
            guard let status = body?["status"]?.numberValue, (400...599).contains(status) else {
                return error(400, "send {\"status\": 400-599, \"message\": \"…\"}")
            }
            refuseEverything(status: Int(status), message: body?["message"]?.stringValue ?? "Refused (injected)")
            return json(.ok, ["refusing": .number(status)])
        case ("DELETE", "/_fake/refuse"):
            stopRefusing()
            return json(.ok, ["refusing": .null])
        case ("GET", "/_fake/tasks"):
            return json(.ok, ["tasks": .array(tasks.map(JSONValue.object))])
        default:
            return nil
        }
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

    // MARK: Agent runs (the user's side of the Agent API)

    /// Creates a PENDING run owned by Ada Lovelace; `taskId` may name a workspace task or not.
    @discardableResult
    public func addAgentRun(agentUserId: String, taskId: String, prompt: String) -> String {
        state.withLock { $0.workspace.addAgentRun(agentUserId: agentUserId, taskId: taskId, prompt: prompt) }
    }

    /// The user stopped the run: PENDING/RUNNING/WAITING → STOPPED. False when it was not active.
    @discardableResult
    public func stopAgentRun(_ id: String) -> Bool { state.withLock { $0.workspace.agentRuns.stop(id) } }

    /// The owner replied to a FINISHED/ERROR/WAITING run: PENDING again, for another turn.
    @discardableResult
    public func requeueAgentRun(_ id: String, message: String) -> Bool {
        state.withLock { $0.workspace.agentRuns.requeue(id, message: message) }
    }

    /// A run as `GET /api/v1/agent/runs/{id}` details it (to any agent).
    public func agentRun(_ id: String) -> JSONValue? { state.withLock { $0.workspace.agentRunDetail(id) } }

    /// Every run of every agent, in creation order, as `GET /api/v1/agent/runs` lists them.
    public var agentRuns: [JSONValue] {
        state.withLock { s in s.workspace.agentRuns.allRuns.map { s.workspace.agentRunListItem($0) } }
    }

    /// The transitions applied to the run, in order ("start", "comment", "complete", …):
    /// what happened, whatever the client saw; refused writes are not in it.
    public func agentTransitions(_ id: String) -> [String] {
        state.withLock { $0.workspace.agentRuns.runs[id]?.transitions ?? [] }
    }

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
        if control, path.hasPrefix("/_fake/") {
            return controlRoute(method, path, body) ?? error(404, "no control route \(method) \(path)")
        }
        // Auth first, as the real API does: agent tokens on the Agent API, workspace
        // keys and personal tokens on the Workspace API, and neither on the other.
        let auth = headers["authorization"] ?? ""
        let agentRoute = Self.agentRoute(path)
        let ws = state.withLock { $0.workspace.workspaceId }
        var user = "api"
        var agent: FakeAgentRuns.Agent?
        if agentRoute != nil {
            agent = Self.agentToken(auth).flatMap { token in state.withLock { $0.workspace.agentRuns.agent(token: token) } }
            if agent == nil { return record(method, path, request, headers, body, error(401, "Unauthorized"), route: agentRoute) }
        } else {
            let token = auth.hasPrefix("Bearer ") ? String(auth.dropFirst(7)) : ""
            if token == Self.personalToken {
                guard let wsHeader = headers["x-workspace-id"], !wsHeader.isEmpty else {
                    return record(method, path, request, headers, body, error(400, "Missing X-Workspace-Id header"))
                }
                guard wsHeader == ws else { return record(method, path, request, headers, body, error(403, "Not a member of this workspace")) }
                user = "user_ada"
            } else if token != Self.workspaceKey {
                return record(method, path, request, headers, body, error(401, "Unauthorized"))
            }
        }
        if let body, request.method != .get, body.objectValue == nil {
            return record(method, path, request, headers, body, error(400, "Body must be a JSON object"), route: agentRoute)
        }
        if let refusal = state.withLock({ $0.refusal }) {
            return record(method, path, request, headers, body, error(refusal.status, refusal.message), route: agentRoute)
        }
        let draw = state.withLock { s -> FakeChaos.Draw in
            guard s.chaos.applies(method, path, route: agentRoute) else { return .normal }
            return s.chaos.draw(Double(s.rng.next() >> 11) / Double(1 << 53))
        }
        let chaos = state.withLock { $0.chaos }
        switch draw {
        case .serverError:
            return record(method, path, request, headers, body, error(500, "Internal error (injected)"), route: agentRoute)
        case .rateLimited:
            return record(method, path, request, headers, body,
                          json(.tooManyRequests, ["error": "Rate limited (injected)"], headers: [.retryAfter: String(chaos.retryAfterSeconds)]),
                          route: agentRoute)
        case .reset:
            _ = record(method, path, request, headers, body, nil, route: agentRoute)
            context.channel.close(promise: nil)
            return error(500, "reset")
        default:
            break
        }
        if draw == .slow, chaos.slowBeforeApplying {
            try? await Task.sleep(nanoseconds: UInt64(chaos.slowSeconds * 1e9))
        }
        let response = route(method, path, request.uri.queryParameters, body?.objectValue ?? [:], user: user,
                             agent: agent.map { ($0, agentRoute ?? path) }, idempotencyKey: method == "GET" ? nil : headers["idempotency-key"])
        switch draw {
        case .acceptedThenReset:
            _ = record(method, path, request, headers, body, nil, route: agentRoute)
            context.channel.close(promise: nil)
            return response
        case .slow where !chaos.slowBeforeApplying:
            try? await Task.sleep(nanoseconds: UInt64(chaos.slowSeconds * 1e9))
        default:
            break
        }
        return record(method, path, request, headers, body, response, route: agentRoute)
    }

    @discardableResult
    func record(_ method: String, _ path: String, _ request: Request, _ headers: [String: String], _ body: JSONValue?,
                _ response: Response?, route: String? = nil) -> Response {
        state.withLock { s in
            guard s.recordRequests else { return }
            s.recorded.append(Recorded(method: method, path: path, query: request.uri.query ?? "", headers: headers, body: body,
                                       status: response.map { Int($0.status.code) }, route: route))
        }
        return response ?? error(500, "dropped")
    }

    /// - Parameter agent: the caller and the route template, on the Agent API.
    func route(_ method: String, _ path: String, _ query: Parameters, _ body: [String: JSONValue], user: String,
               agent: (FakeAgentRuns.Agent, String)?, idempotencyKey: String?) -> Response {
        let result: Result<(Int, JSONValue), FakeWorkspace.Failure> = state.withLock { s in
            if let key = idempotencyKey, let cached = s.idempotent?[key] { return cached }
            let result: Result<(Int, JSONValue), FakeWorkspace.Failure>
            if case let (agent, template)? = agent {
                do throws(FakeWorkspace.Failure) {
                    result = .success((200, try applyAgent(&s, method, template, path, query, body, agent: agent)))
                } catch {
                    result = .failure(error)
                }
            } else {
                result = apply(&s, method, path, query, body, user: user)
            }
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

extension GroupChatFake {
    static let agentPrefix = "/api/v1/agent"

    /// The route template of an Agent API path (the run id as `{id}`), nil for other paths.
    static func agentRoute(_ path: String) -> String? {
        guard path == agentPrefix || path.hasPrefix(agentPrefix + "/") else { return nil }
        var parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count >= 6, parts[4] == "runs" { parts[5] = "{id}" }
        return parts.joined(separator: "/")
    }

    /// The token of `Authorization: Bearer TOKEN` or of Basic auth with the token as user
    /// and an empty password (`curl -u TOKEN:`).
    static func agentToken(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        switch parts[0].lowercased() {
        case "bearer":
            return String(parts[1])
        case "basic":
            guard let bytes = Base64.decode(parts[1]), let pair = String(validating: bytes, as: UTF8.self),
                  let colon = pair.firstIndex(of: ":"), pair[pair.index(after: colon)...].isEmpty else { return nil }
            return String(pair[..<colon])
        default:
            return nil
        }
    }

    private func applyAgent(_ s: inout State, _ method: String, _ template: String, _ path: String, _ query: Parameters,
                            _ body: [String: JSONValue], agent: FakeAgentRuns.Agent) throws(FakeWorkspace.Failure) -> JSONValue {
        let id = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst(5).first.map(String.init) ?? ""
        let runs = Self.agentPrefix + "/runs"
        switch (method, template) {
        case ("GET", Self.agentPrefix + "/me"):
            return FakeAgentRuns.me(agent)
        case ("GET", runs):
            let list = try s.workspace.agentRuns.list(agent: agent, status: query.get("status"), workspaceId: query.get("workspaceId"),
                                                      limit: query.get("limit"))
            return ["runs": .array(list.map { s.workspace.agentRunListItem($0) })]
        case ("GET", runs + "/{id}") where !id.isEmpty:
            let run = try s.workspace.agentRuns.owned(id, by: agent)
            return FakeAgentRuns.detail(run, task: s.workspace.agentTask(run.taskId))
        case ("POST", runs + "/{id}/start") where !id.isEmpty:
            return try s.workspace.agentRuns.start(id, agent: agent, body: body)
        case ("POST", runs + "/{id}/comment") where !id.isEmpty:
            return try s.workspace.agentRuns.comment(id, agent: agent, body: body)
        case ("POST", runs + "/{id}/complete") where !id.isEmpty:
            return try s.workspace.agentRuns.finish(id, agent: agent, body: body, as: .finished)
        case ("POST", runs + "/{id}/error") where !id.isEmpty:
            return try s.workspace.agentRuns.finish(id, agent: agent, body: body, as: .error)
        default:
            throw FakeWorkspace.Failure(404, "Not found: \(method) \(path)")
        }
    }
}

/// Standard base64 (RFC 4648, padded), for Basic auth.
enum Base64 {
    static func decode(_ text: Substring) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard !chars.isEmpty, chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        for start in stride(from: 0, to: chars.count, by: 4) {
            var quad: UInt32 = 0
            var padding = 0
            for (i, c) in chars[start..<start + 4].enumerated() {
                let v: UInt8
                switch c {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
                case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
                case UInt8(ascii: "+"): v = 62
                case UInt8(ascii: "/"): v = 63
                case UInt8(ascii: "=") where start + 4 == chars.count && i >= 2: v = 0; padding += 1
                default: return nil
                }
                if padding > 0, c != UInt8(ascii: "=") { return nil }
                quad = quad << 6 | UInt32(v)
            }
            let bytes = [UInt8(quad >> 16 & 0xFF), UInt8(quad >> 8 & 0xFF), UInt8(quad & 0xFF)]
            out += bytes.prefix(3 - padding)
        }
        return out
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
