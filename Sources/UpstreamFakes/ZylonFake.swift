// A strict fake of Zylon's Workspace API (projects and project-scoped chat) on a real
// loopback port, in the style of ``GroupChatFake``.
//
// Where each contract detail comes from (sections of docs/targets-research.md, which cite
// zylon-ai/zylon-docs @666df07: [ZY-overview], [ZY-project], [ZY-inter], [ZY-oas] =
// api-reference/workspace.json; and the local copy /work/shared/api-docs/zylon-projects-api.txt):
//
// - Paths under `/api/v1` (§2.1 "Base URL"); the routes are §2.2's table:
//   `GET /api/v1/app/me`, `GET /api/v1/app/project/{projectID}`,
//   `POST /api/v1/app/project/{projectID}/chat`, `GET /api/v1/app/interaction/{interactionID}`,
//   and `GET /api/v1/app/user/{userId}/project` (§2.7, the listing `check --live` can use
//   for "(has: …)" suggestions). Cancel and stream (§2.2) are not implemented: what state
//   a cancelled interaction shows is not documented.
// - `Authorization: Bearer <token>` (§2.1 "Auth"); any other token answers 401 (§3.2 "Auth",
//   §2.5 "401/403: token missing or insufficient permissions").
// - `x-org` is required on `/api/v1/app/*`, valued with the org slug or UUID (§2.1
//   "Organisation header"; the local doc omits it). Zylon's answer to a missing or wrong
//   `x-org` is NOT documented (§2.1, §4 item 11). Fake assumptions: missing → 400
//   "Missing x-org header"; an org the token does not belong to → 403 (§3.2 suggests 403).
//   Connector tests should only assert the header is always sent.
// - 404 "project not found", 403 "not a project member" (§2.5, [ZY-project] "Errors and
//   edge cases"); 404 for an unknown interaction (§2.5 "resource IDs are invalid", §3.2).
// - The chat body is `ProjectChatDTO` (§2.3): `all_artifacts` (bool), `artifact_ids`
//   (string[]), `pgpt` (required `ChatRequest`: `messages` of `{role, content:[ContentBlock]}`,
//   `system: {text, use_default_prompt}`, `max_tokens`, `temperature`, and the other
//   `ChatRequest` fields §2.3 lists). Unknown or mistyped fields answer 400 (strict; the
//   real server's strictness is not documented, §2.3 "Validation" only says an invalid
//   schema is 400 for the one-shot chat). See ``ZylonOrg/validateChat(_:)``.
// - The chat answers 200 (undocumented: §3.2 "use 200") with `{"id":"inter_<n>","state":…}`,
//   the documented example's shape (§2.2); `Processing` until its polls run out, or the
//   terminal state at once when scripted with 0 processing polls (§3.2, §4 item 12).
// - `GET interaction` answers the InteractionDTO (§2.4): `id, project_id, state,
//   user_input, created_at, created_by, pgpt, all_artifacts, artifact_ids`, and once
//   finished `assistant_output` with `content: [{type:"text", text}]` (Completed) or
//   `stop_reason:"error", errors:[{type:"api_error", message}]` (Error) (§3.2 table).
//   States are `Processing`, `Completed`, `Error` (§2.4, §4 item 15). No `thread_id`:
//   project chat is ephemeral (§2.2). Interactions progress per GET, not by time (§3).
// - Error bodies are `{"message": "<reason>"}`: a FAKE-ONLY shape, since Zylon's error
//   body is undocumented (§2.5, §3.2 "Error bodies"). Parse them opaquely.
// - Chaos (§3.2 "Chaos"): ``FakeChaos`` as for GroupChat; its `only` entries may name the
//   concrete path or the route template, e.g. `"GET /api/v1/app/interaction/{id}"`
//   ("resetOnPoll"). `processingPolls`, `stuck`, `errorState` are ``ZylonOrg/Script``s;
//   "lookupGone" is ``ZylonOrg/interactionsFetchable``.
import Hummingbird
import Logging
import NIOCore
import Synchronization
import TaskBridgeCore

/// A strict fake of the Zylon Workspace API's projects and project-scoped chat on a real
/// loopback port. Every request is recorded so tests can assert what the connector sent.
public final class ZylonFake: Sendable {
    public typealias Recorded = RecordedRequest

    /// The standard org's tokens (``ZylonOrg/standard()``).
    public static let token = "zyl_fake_token"
    public static let graceToken = "zyl_fake_token_grace"
    public static let orgSlug = "default"

    struct State {
        var org: ZylonOrg
        var recorded: [Recorded] = []
        var chaos: FakeChaos
        var rng: SplitMix64
        var recordRequests: Bool
    }

    private let state: Mutex<State>
    private let server = LoopbackServer(label: "zylon-fake")

    public init(org: ZylonOrg = .standard(), chaos: FakeChaos = .none, seed: UInt64 = 42, recordRequests: Bool = true) {
        state = Mutex(State(org: org, chaos: chaos, rng: SplitMix64(state: seed), recordRequests: recordRequests))
    }

    public var port: Int { server.port }
    /// The connector's `baseURL` (paths start with `/api/v1/...`).
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public func setChaos(_ chaos: FakeChaos) { state.withLock { $0.chaos = chaos } }
    public var org: ZylonOrg { state.withLock { $0.org } }
    public func mutate(_ body: (inout ZylonOrg) -> Void) { state.withLock { body(&$0.org) } }
    /// Scripts the next chats, in order (one script per chat, any project).
    public func script(_ scripts: ZylonOrg.Script...) { state.withLock { $0.org.scripted.append(contentsOf: scripts) } }
    /// Every interaction created, in order: what actually happened, whatever the client saw.
    public var interactions: [ZylonOrg.Interaction] { state.withLock { $0.org.allInteractions } }
    public var requests: [Recorded] { state.withLock { $0.recorded } }
    public func requests(_ method: String, _ path: String) -> [Recorded] {
        requests.filter { $0.method == method && $0.path == path }
    }
    public func clearRecorded() { state.withLock { $0.recorded.removeAll() } }

    /// Starts listening on `port` (0 picks a free one) and returns once it accepts.
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws {
        try await server.start(host: host, port: port) { req, ctx in try await self.handle(req, ctx) }
    }

    public func stop() async { await server.stop() }

    func json(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.serializeBytes(value))))
    }

    /// Fake-only error shape (Zylon's is undocumented).
    func error(_ status: Int, _ message: String) -> Response {
        json(HTTPResponse.Status(code: status), ["message": .string(message)])
    }

    /// The route a path matches, as `"METHOD template"`, and its one path parameter.
    static func route(_ method: String, _ path: String) -> (template: String, id: String)? {
        let prefix = "/api/v1/app/"
        guard path.hasPrefix(prefix) else { return nil }
        let parts = path.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch (method, parts.count, parts.first) {
        case ("GET", 1, "me"): return ("GET /api/v1/app/me", "")
        case ("GET", 2, "project"): return ("GET /api/v1/app/project/{id}", parts[1])
        case ("POST", 3, "project") where parts[2] == "chat": return ("POST /api/v1/app/project/{id}/chat", parts[1])
        case ("GET", 2, "interaction"): return ("GET /api/v1/app/interaction/{id}", parts[1])
        case ("GET", 3, "user") where parts[2] == "project": return ("GET /api/v1/app/user/{id}/project", parts[1])
        default: return nil
        }
    }

    func handle(_ request: Request, _ context: FakeRequestContext) async throws -> Response {
        let path = request.uri.path
        let method = request.method.rawValue
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let bodyBytes = Array(buffer: try await request.body.collect(upTo: 8 << 20))
        let body = bodyBytes.isEmpty ? nil : try? JSONParser.parse(bodyBytes)
        func answer(_ response: Response?) -> Response { record(method, path, request, headers, body, response) }

        // Auth first, then the org header (§2.1).
        let auth = headers["authorization"] ?? ""
        let token = auth.hasPrefix("Bearer ") ? String(auth.dropFirst(7)) : ""
        guard let user = state.withLock({ $0.org.user(token: token) }) else { return answer(error(401, "Unauthorized")) }
        if path.hasPrefix("/api/v1/app/") {
            // Undocumented answers (§2.1, §4 item 11): fake assumptions 400 and 403.
            guard let org = headers["x-org"], !org.isEmpty else { return answer(error(400, "Missing x-org header")) }
            guard state.withLock({ $0.org.accepts(org: org) }) else { return answer(error(403, "Not a member of organization \(org)")) }
        }
        let route = Self.route(method, path)
        let draw = state.withLock { s -> FakeChaos.Draw in
            if let only = s.chaos.only, !only.contains("\(method) \(path)"), !(route.map { only.contains($0.template) } ?? false) {
                return .normal
            }
            return s.chaos.draw(Double(s.rng.next() >> 11) / Double(1 << 53))
        }
        let chaos = state.withLock { $0.chaos }
        switch draw {
        case .serverError:
            return answer(error(500, "Internal error (injected)"))
        case .rateLimited:
            return answer(json(.tooManyRequests, ["message": "Rate limited (injected)"], headers: [.retryAfter: String(chaos.retryAfterSeconds)]))
        case .reset:
            _ = answer(nil)
            context.channel.close(promise: nil)
            return error(500, "reset")
        default:
            break
        }
        if draw == .slow, chaos.slowBeforeApplying {
            try? await Task.sleep(nanoseconds: UInt64(chaos.slowSeconds * 1e9))
        }
        let response: Response
        if let route {
            var query: [String: String] = [:]
            for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
            response = apply(route, body: body, bodyBytes: bodyBytes, query: query, user: user)
        } else {
            response = error(404, "Not found: \(method) \(path)")
        }
        switch draw {
        case .acceptedThenReset:
            _ = answer(nil)
            context.channel.close(promise: nil)
            return response
        case .slow where !chaos.slowBeforeApplying:
            try? await Task.sleep(nanoseconds: UInt64(chaos.slowSeconds * 1e9))
        default:
            break
        }
        return answer(response)
    }

    func apply(_ route: (template: String, id: String), body: JSONValue?, bodyBytes: [UInt8], query: [String: String],
               user: ZylonOrg.User) -> Response {
        let result: Result<JSONValue, ZylonOrg.Failure> = state.withLock { s in
            do throws(ZylonOrg.Failure) {
                switch route.template {
                case "GET /api/v1/app/me": return .success(s.org.me(user))
                case "GET /api/v1/app/project/{id}": return .success(try s.org.project(route.id, user: user))
                case "GET /api/v1/app/user/{id}/project":
                    return .success(try s.org.projects(visibleTo: route.id, user: user, query: query))
                case "GET /api/v1/app/interaction/{id}": return .success(try s.org.poll(route.id, user: user))
                default: // POST /api/v1/app/project/{id}/chat: 404, then 403, then the body (400).
                    _ = try s.org.memberProject(route.id, user)
                    guard !bodyBytes.isEmpty else { throw ZylonOrg.Failure(400, "Body must be a JSON object") }
                    guard let body else { throw ZylonOrg.Failure(400, "Invalid JSON body") }
                    guard let object = body.objectValue else { throw ZylonOrg.Failure(400, "Body must be a JSON object") }
                    return .success(try s.org.chat(projectId: route.id, body: object, user: user))
                }
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let value): return json(.ok, value)
        case .failure(let f): return error(f.status, f.message)
        }
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
}
