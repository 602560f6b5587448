import Hummingbird
import Logging
import NIOCore
import Synchronization
import TaskBridgeCore

/// A strict fake of the PostHog Tasks API on a real loopback port.
///
/// Where each contract detail comes from (sections of `docs/targets-research.md`; its
/// labels such as [PH-views] name the PostHog source files and commits it read):
///
/// - **Routes** (§1.2, §3.1): `/api/projects/{project_id}/tasks/` list (GET) and create
///   (POST, 201); `…/tasks/{id}/` retrieve (GET), partial update (PATCH; PUT routes there
///   too), soft delete (DELETE, 204); `…/tasks/{id}/run/` (POST, 200 Task with the new
///   `latest_run`); `…/tasks/{id}/runs/` and `…/tasks/{id}/runs/{run_id}/` (GET). The
///   trailing slash is optional on every route (§1.1, [PH-routing] `trailing_slash = r"/?"`).
///   A known route with another method answers DRF's 405; any other path answers 404.
///   Other real routes (presence, staged artifacts, runs start/cancel/…) are not modelled.
/// - **Auth** (§1.1, §3.1): `Authorization: Bearer <personal API key>`. No credentials →
///   `401 not_authenticated` (DRF's standard body); an unknown key → `401
///   authentication_failed` "Personal API key found in request Authorization header is
///   invalid." (the text of PostHog's `PersonalAPIKeyAuthentication`, found in PostHog's
///   `posthog/auth.py` through the search index; not in the research). A key without the
///   route's scope (`task:read` for GETs, `task:write` otherwise, §1.1) → `403
///   permission_denied` "API key missing required scope 'task:write'" (§3.1). Keys:
///   ``personalKey`` (both scopes) and ``readOnlyKey`` (`task:read`), both user Ada (id 1).
///   Order of checks: route → auth (401) → project (404 for an unknown `{project_id}`,
///   §3.1) → scope (403) → method (405) → body. That the project check comes before the
///   scope check is the fake's choice; the research does not say.
/// - **Bodies** (§1.3, §3.1): a non-empty body needs a JSON `Content-Type`, else DRF's 415;
///   malformed or non-object JSON → `400 invalid_request / parse_error` (§3.1; DRF's code,
///   PostHog's exact text unchecked). Field rules are in ``PostHogProject`` (§1.3, §1.8):
///   every field optional, `repository` "org/repo" (lowercased), `origin_product` a known
///   choice and never `image_builder`, `title` ≤ 255, `github_integration` an integration of
///   the project, typed booleans/strings, run `mode` ∈ interactive/background,
///   `resume_from_run_id` a run of the same task (`400 {"detail": "Invalid resume_from_run_id"}`).
///   Unknown fields are ignored as PostHog does and recorded (``unknownFields``); the
///   project's `strictUnknownFields` refuses them (fake-only, §1.8 option (b)).
/// - **Shapes** (§1.4): the Task and TaskRun fields of [PH-ser]; the run's PR URL is
///   `output.pr_url`; `created_by` is the key's user. Lists are `{count, next, previous,
///   results}` with limit/offset (default 50, max 100), newest first, `next`/`previous`
///   absolute URLs with sorted query parameters as DRF builds them.
/// - **List filters** (§1.6): `search` (title/description case-insensitive substring, or
///   `task_number` when the part after the last `-` is digits), `origin_product`,
///   `repository`, `organization`, `created_by`, `status` (latest run), `stage`, `channel`,
///   `internal` / `archived` (`true|false|all`, default excludes). Only the key user's own
///   tasks and creator-less tasks are visible; others answer 404 (§1.6 Visibility).
/// - **Errors** (§1.7): `{"type","code","detail","attr"}`; 404 is
///   `invalid_request / not_found / "Not found."` (§3.1, modelled on drf-exceptions-hog).
///   The `run` usage-quota 429 (project `usageLimit`) carries `reset_at` and no `Retry-After`.
/// - **Runs** (§1.5, §3.1): created `queued`; they advance one step per read of the task or
///   its runs following a ``PostHogProject/RunScript`` — see ``PostHogProject``.
/// - **No idempotency** (§1.9): `Idempotency-Key` is ignored, so a re-sent create or run
///   makes a second task or run.
/// - **Chaos**: the shared ``FakeChaos`` (server error, 429 with `Retry-After`, slow, reset,
///   accepted-then-reset), with PostHog-shaped bodies (`server_error`, `throttled_error`).
///   `only` entries match `"METHOD /path"` as sent, with its trailing slash added, or as the
///   route template, e.g. `"POST /api/projects/{project_id}/tasks/{id}/run/"`.
///
/// Every request is recorded (method, path, query, headers, body, status, route template).
public final class PostHogFake: Sendable {
    public typealias Recorded = RecordedRequest

    /// A personal API key and what it may do.
    public struct APIKey: Sendable, Hashable {
        public var token: String
        public var user: PostHogProject.User
        public var scopes: Set<String>
        public init(token: String, user: PostHogProject.User, scopes: Set<String>) {
            self.token = token
            self.user = user
            self.scopes = scopes
        }
    }

    /// `task:read` and `task:write`.
    public static let personalKey = "phx_fake_personal_key"
    /// `task:read` only: every write answers 403.
    public static let readOnlyKey = "phx_fake_read_only_key"
    public static let defaultKeys = [
        APIKey(token: personalKey, user: .ada, scopes: ["task:read", "task:write"]),
        APIKey(token: readOnlyKey, user: .ada, scopes: ["task:read"]),
    ]

    public static let tasksRoute = "/api/projects/{project_id}/tasks/"
    public static let taskRoute = "/api/projects/{project_id}/tasks/{id}/"
    public static let runRoute = "/api/projects/{project_id}/tasks/{id}/run/"
    public static let runsRoute = "/api/projects/{project_id}/tasks/{id}/runs/"
    public static let runItemRoute = "/api/projects/{project_id}/tasks/{id}/runs/{run_id}/"

    struct State {
        var projects: [Int: PostHogProject]
        var keys: [String: APIKey]
        var recorded: [Recorded] = []
        var chaos: FakeChaos
        var rng: SplitMix64
        var recordRequests: Bool
    }

    private let state: Mutex<State>
    private let server = LoopbackServer(label: "posthog-fake")

    public init(projects: [PostHogProject] = [.standard()], keys: [APIKey] = PostHogFake.defaultKeys, chaos: FakeChaos = .none,
                seed: UInt64 = 42, recordRequests: Bool = true) {
        state = Mutex(State(projects: Dictionary(projects.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last }),
                            keys: Dictionary(keys.map { ($0.token, $0) }, uniquingKeysWith: { _, last in last }),
                            chaos: chaos, rng: SplitMix64(state: seed), recordRequests: recordRequests))
    }

    public var port: Int { server.port }
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public func setChaos(_ chaos: FakeChaos) { state.withLock { $0.chaos = chaos } }
    public func project(_ id: Int = 1) -> PostHogProject? { state.withLock { $0.projects[id] } }
    /// Changes a project's state (scripts, integrations, strict mode, seeded tasks…).
    public func mutate(project id: Int = 1, _ body: (inout PostHogProject) -> Void) {
        state.withLock { s in
            guard var p = s.projects[id] else { return }
            body(&p)
            s.projects[id] = p
        }
    }
    public func addKey(_ key: APIKey) { state.withLock { $0.keys[key.token] = key } }
    public var requests: [Recorded] { state.withLock { $0.recorded } }
    /// Requests to one route template (see ``tasksRoute`` and its siblings).
    public func requests(_ method: String, route: String) -> [Recorded] {
        requests.filter { $0.method == method && $0.route == route }
    }
    public func clearRecorded() { state.withLock { $0.recorded.removeAll() } }
    /// Undeclared fields requests carried, over every project.
    public var unknownFields: [PostHogProject.UnknownField] {
        state.withLock { s in s.projects.keys.sorted().flatMap { s.projects[$0]!.unknownFields } }
    }

    /// Starts listening on `port` (0 picks a free one) and returns once it accepts.
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws {
        try await server.start(host: host, port: port) { req, ctx in try await self.handle(req, ctx) }
    }

    public func stop() async { await server.stop() }

    /// Runs until cancelled.
    public func runForever(host: String, port: Int) async throws {
        try await start(host: host, port: port)
        try await server.wait()
    }

    // MARK: - HTTP

    func json(_ status: Int, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: HTTPResponse.Status(code: status), headers: h,
                        body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.serializeBytes(value))))
    }

    func failure(_ f: PostHogProject.Failure, headers: HTTPFields = [:]) -> Response { json(f.status, f.body, headers: headers) }

    enum Route {
        case tasks(project: String)
        case task(project: String, id: String)
        case run(project: String, id: String)
        case runs(project: String, id: String)
        case runItem(project: String, id: String, runId: String)

        var template: String {
            switch self {
            case .tasks: PostHogFake.tasksRoute
            case .task: PostHogFake.taskRoute
            case .run: PostHogFake.runRoute
            case .runs: PostHogFake.runsRoute
            case .runItem: PostHogFake.runItemRoute
            }
        }

        var project: String {
            switch self {
            case .tasks(let p), .task(let p, _), .run(let p, _), .runs(let p, _), .runItem(let p, _, _): p
            }
        }

        var methods: [String] {
            switch self {
            case .tasks: ["GET", "POST"]
            case .task: ["GET", "PATCH", "PUT", "DELETE"]
            case .run: ["POST"]
            case .runs, .runItem: ["GET"]
            }
        }

        /// One optional trailing slash, as `DefaultRouterPlusPlus` allows.
        static func match(_ path: String) -> Route? {
            var p = Substring(path)
            guard p.hasPrefix("/") else { return nil }
            p = p.dropFirst()
            if p.hasSuffix("/") { p = p.dropLast() }
            let s = p.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard s.count >= 4, s[0] == "api", s[1] == "projects", s[3] == "tasks", !s.contains("") else { return nil }
            switch s.count {
            case 4: return .tasks(project: s[2])
            case 5: return .task(project: s[2], id: s[4])
            case 6 where s[5] == "run": return .run(project: s[2], id: s[4])
            case 6 where s[5] == "runs": return .runs(project: s[2], id: s[4])
            case 7 where s[5] == "runs": return .runItem(project: s[2], id: s[4], runId: s[6])
            default: return nil
            }
        }
    }

    /// Django's `QueryDict`: `+` is a space, percent escapes decoded, the last value wins.
    static func parseQuery(_ query: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            out[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return out
    }

    static func decode(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 65...70: c - 55
            case 97...102: c - 87
            default: nil
            }
        }
        while i < u.count {
            if u[i] == 43 {
                bytes.append(32)
            } else if u[i] == 37, i + 2 < u.count, let h = hex(u[i + 1]), let l = hex(u[i + 2]) {
                bytes.append(h << 4 | l)
                i += 2
            } else {
                bytes.append(u[i])
            }
            i += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Python's `urlencode` (`quote_plus`).
    static func encode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case 48...57, 65...90, 97...122, 45, 46, 95, 126: out.unicodeScalars.append(Unicode.Scalar(b))
            case 32: out += "+"
            default:
                let h = String(b, radix: 16, uppercase: true)
                out += "%" + (h.count == 1 ? "0" + h : h)
            }
        }
        return out
    }

    /// DRF's `replace_query_param` / `remove_query_param`: the other parameters kept, sorted.
    static func pageLink(base: String, query: [String: String], limit: Int, offset: Int?) -> String {
        var q = query
        q["limit"] = String(limit)
        q["offset"] = offset.map(String.init)
        return base + "?" + q.keys.sorted().map { "\(encode($0))=\(encode(q[$0]!))" }.joined(separator: "&")
    }

    func handle(_ request: Request, _ context: FakeRequestContext) async throws -> Response {
        let path = request.uri.path
        let method = request.method.rawValue
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let bodyBytes = Array(buffer: try await request.body.collect(upTo: 8 << 20))
        let rawBody: JSONValue? = bodyBytes.isEmpty ? nil : (try? JSONParser.parse(bodyBytes)) ?? .string(String(decoding: bodyBytes, as: UTF8.self))
        let route = Route.match(path)
        func answer(_ response: Response?) -> Response {
            record(method, path, request, headers, rawBody, route?.template, response)
        }
        guard let route else { return answer(failure(.notFound)) }

        // Auth.
        let auth = headers["authorization"] ?? ""
        guard auth.hasPrefix("Bearer "), case let token = String(auth.dropFirst(7)).trimmingCharacters(), !token.isEmpty else {
            return answer(failure(.init(401, type: "authentication_error", code: "not_authenticated",
                                        detail: "Authentication credentials were not provided.")))
        }
        guard let key = state.withLock({ $0.keys[token] }) else {
            return answer(failure(.init(401, type: "authentication_error", code: "authentication_failed",
                                        detail: "Personal API key found in request Authorization header is invalid.")))
        }
        guard let projectId = Int(route.project), state.withLock({ $0.projects[projectId] != nil }) else {
            return answer(failure(.notFound))
        }
        let scope = method == "GET" ? "task:read" : "task:write"
        guard key.scopes.contains(scope) else {
            return answer(failure(.init(403, type: "authentication_error", code: "permission_denied",
                                        detail: "API key missing required scope '\(scope)'")))
        }
        guard route.methods.contains(method) else {
            return answer(failure(.init(405, type: "invalid_request", code: "method_not_allowed",
                                        detail: "Method \"\(method)\" not allowed.")))
        }

        // Body.
        var body: [String: JSONValue] = [:]
        if !bodyBytes.isEmpty, method != "GET", method != "DELETE" {
            let contentType = headers["content-type"] ?? ""
            guard contentType.lowercased().hasPrefix("application/json") else {
                return answer(failure(.init(415, type: "invalid_request", code: "unsupported_media_type",
                                            detail: "Unsupported media type \"\(contentType)\" in request.")))
            }
            guard let parsed = try? JSONParser.parse(bodyBytes) else {
                return answer(failure(.init(400, type: "invalid_request", code: "parse_error", detail: "JSON parse error")))
            }
            guard let object = parsed.objectValue else {
                return answer(failure(.init(400, type: "invalid_request", code: "parse_error",
                                            detail: "JSON parse error - expected an object, got \(parsed.typeName)")))
            }
            body = object
        }

        // Chaos.
        let withSlash = path.hasSuffix("/") ? path : path + "/"
        let draw = state.withLock { s -> FakeChaos.Draw in
            if let only = s.chaos.only,
               !only.contains("\(method) \(path)"), !only.contains("\(method) \(withSlash)"), !only.contains("\(method) \(route.template)") {
                return .normal
            }
            return s.chaos.draw(Double(s.rng.next() >> 11) / Double(1 << 53))
        }
        let chaos = state.withLock { $0.chaos }
        switch draw {
        case .serverError:
            return answer(failure(.init(500, type: "server_error", code: "error", detail: "A server error occurred.")))
        case .rateLimited:
            let seconds = chaos.retryAfterSeconds
            return answer(failure(.init(429, type: "throttled_error", code: "throttled",
                                        detail: "Request was throttled. Expected available in \(seconds) second\(seconds == 1 ? "" : "s")."),
                                  headers: [.retryAfter: String(seconds)]))
        case .reset:
            _ = answer(nil)
            context.channel.close(promise: nil)
            return failure(.init(500, type: "server_error", code: "error", detail: "reset"))
        default:
            break
        }
        if draw == .slow, chaos.slowBeforeApplying {
            try? await Task.sleep(nanoseconds: UInt64(chaos.slowSeconds * 1e9))
        }
        let host = headers["host"].map { "http://" + $0 } ?? baseURL
        let response = apply(route, projectId: projectId, method: method, query: Self.parseQuery(request.uri.query ?? ""), body: body,
                             user: key.user, linkBase: host + withSlash)
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

    @discardableResult
    func record(_ method: String, _ path: String, _ request: Request, _ headers: [String: String], _ body: JSONValue?,
                _ route: String?, _ response: Response?) -> Response {
        state.withLock { s in
            guard s.recordRequests else { return }
            s.recorded.append(Recorded(method: method, path: path, query: request.uri.query ?? "", headers: headers, body: body,
                                       status: response.map { Int($0.status.code) }, route: route))
        }
        return response ?? failure(.init(500, type: "server_error", code: "error", detail: "dropped"))
    }

    func apply(_ route: Route, projectId: Int, method: String, query: [String: String], body: [String: JSONValue],
               user: PostHogProject.User, linkBase: String) -> Response {
        let link = { (limit: Int, offset: Int?) in Self.pageLink(base: linkBase, query: query, limit: limit, offset: offset) }
        let result: Result<(Int, JSONValue?), PostHogProject.Failure> = state.withLock { s in
            guard var project = s.projects[projectId] else { return .failure(.notFound) }
            defer { s.projects[projectId] = project }
            do throws(PostHogProject.Failure) {
                switch (route, method) {
                case (.tasks, "GET"): return .success((200, try project.listTasks(query: query, by: user, link: link)))
                case (.tasks, "POST"): return .success((201, try project.createTask(body, by: user)))
                case (.task(_, let id), "GET"): return .success((200, try project.retrieveTask(id, by: user)))
                case (.task(_, let id), "PATCH"), (.task(_, let id), "PUT"):
                    return .success((200, try project.updateTask(id, body, by: user)))
                case (.task(_, let id), "DELETE"):
                    try project.deleteTask(id, by: user)
                    return .success((204, nil))
                case (.run(_, let id), "POST"): return .success((200, try project.runTask(id, body, by: user)))
                case (.runs(_, let id), "GET"): return .success((200, try project.listRuns(id, query: query, by: user, link: link)))
                case (.runItem(_, let id, let runId), "GET"): return .success((200, try project.retrieveRun(id, runId, by: user)))
                default: return .failure(.notFound)
                }
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success((let status, let value?)): return json(status, value)
        case .success((let status, nil)): return Response(status: HTTPResponse.Status(code: status))
        case .failure(let f): return failure(f)
        }
    }
}

fileprivate extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
