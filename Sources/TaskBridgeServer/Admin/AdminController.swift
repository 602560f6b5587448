import Foundation
import Hummingbird
import TaskBridgeCore
import TaskBridgeStore

/// `/admin/api/…`: inspect events, jobs and attempts; retry jobs and dead letters;
/// replay events. Enabled only when an admin token is configured; the bearer token is
/// compared in constant time.
struct AdminController: Sendable {
    let runtime: TaskBridgeRuntime

    func register(on router: Router<TaskBridgeRequestContext>, prefix: String) {
        let base = "\(prefix)/admin/api"
        router.get("\(base)/session") { req, ctx in try await self.guarded(req, ctx) { self.session($0) } }
        router.get("\(base)/events") { req, ctx in try await self.guarded(req, ctx) { _ in try await self.listEvents(req) } }
        router.get("\(base)/events/:id") { req, ctx in try await self.guarded(req, ctx) { _ in try await self.showEvent(ctx.parameters.get("id") ?? "") } }
        router.post("\(base)/events/:id/replay") { req, ctx in try await self.guarded(req, ctx) { _ in try await self.replay(ctx.parameters.get("id") ?? "") } }
        router.get("\(base)/jobs") { req, ctx in try await self.guarded(req, ctx) { _ in try await self.listJobs(req) } }
        router.post("\(base)/jobs/:id/retry") { req, ctx in try await self.guarded(req, ctx) { _ in try await self.retry(ctx.parameters.get("id") ?? "") } }
        router.post("\(base)/dead-letters/retry") { req, ctx in try await self.guarded(req, ctx) { _ in try await self.retryDead(req) } }
        router.get("\(base)/targets") { req, ctx in try await self.guarded(req, ctx) { _ in try await self.listTargets() } }
        router.get("\(base)/rules") { req, ctx in try await self.guarded(req, ctx) { _ in self.listRules() } }
        router.get("\(base)/agents") { req, ctx in try await self.guarded(req, ctx) { _ in try await self.listAgents() } }
        router.get("\(base)/runs") { req, ctx in try await self.guarded(req, ctx) { _ in try await self.listRuns(req) } }
        router.get("\(base)/runs/:id") { req, ctx in try await self.guarded(req, ctx) { _ in try await self.showRun(ctx.parameters.get("id") ?? "") } }
    }

    /// Runs `body` for an authenticated caller; answers 404 when the admin API is off,
    /// 401 without credentials, 403 for a console POST without its CSRF token and 429
    /// after too many wrong tokens. Answers are never cached.
    func guarded(_ request: Request, _ context: TaskBridgeRequestContext,
                 _ body: (AdminAuth.Caller) async throws -> Response) async throws -> Response {
        let caller = runtime.adminAuth.authenticate(request.headers, mutating: request.method == .post,
                                                    client: runtime.clientIP(request, context), now: Double(WallClock.nowMillis()) / 1000)
        var response: Response
        switch caller {
        case .success(let who):
            do {
                response = try await body(who)
            } catch let e as AdminInputError {
                response = JSONResponse.error(400, e.message)
            }
        case .failure(let refusal):
            response = Self.refusal(refusal)
        }
        response.headers[.cacheControl] = "no-store"
        return response
    }

    static func refusal(_ refusal: AdminAuth.Refusal) -> Response {
        switch refusal {
        case .disabled:
            JSONResponse.error(404, "the admin API is disabled; set TASKBRIDGE_ADMIN_TOKEN (admin.token) to enable it")
        case .unauthenticated(let why):
            JSONResponse.error(401, why, headers: [.wwwAuthenticate: "Bearer"])
        case .forbidden(let why):
            JSONResponse.error(403, why)
        case .throttled(let after):
            JSONResponse.error(429, "too many wrong admin tokens from this address; try again in \(after) s",
                               headers: [.retryAfter: "\(after)"])
        }
    }

    /// The console's CSRF token, for a signed-in session.
    func session(_ caller: AdminAuth.Caller) -> Response {
        guard case .session(let session) = caller, let token = runtime.adminAuth.token else {
            return JSONResponse.error(400, "only a console session has a CSRF token; bearer requests need none")
        }
        return JSONResponse.make(.ok, ["csrfToken": .string(session.csrfToken(adminToken: token)),
                                       "expiresAt": AdminJSON.time(session.expiresAt * 1000)])
    }

    struct AdminInputError: Error { let message: String }

    func time(_ request: Request, _ name: String) throws -> Int64? {
        guard let raw = request.uri.queryParameters.get(name) else { return nil }
        if let ms = Int64(raw) { return ms }
        guard let ms = ISO8601.parseMillis(raw) else {
            throw AdminInputError(message: "\(name)=\(raw.prefix(40)) is not a time; use Unix milliseconds or ISO 8601 (2026-11-22T10:00:00Z)")
        }
        return ms
    }

    func limit(_ request: Request) throws -> Int {
        guard let raw = request.uri.queryParameters.get("limit") else { return 100 }
        guard let n = Int(raw), (1...1000).contains(n) else { throw AdminInputError(message: "limit must be 1 to 1000") }
        return n
    }

    func jobFilter(_ q: Parameters, _ request: Request) throws -> JobFilter {
        if let s = q.get("state"), !JobState.allCases.map(\.rawValue).contains(s) {
            throw AdminInputError(message: "state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return JobFilter(source: q.get("source"), type: q.get("type"), state: q.get("state"), target: q.get("target"),
                         ruleId: q.get("rule"), sinceMillis: try time(request, "since"), untilMillis: try time(request, "until"),
                         limit: try limit(request))
    }

    func listEvents(_ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        if let s = q.get("status"), !Self.eventStatuses.contains(s) {
            throw AdminInputError(message: "status must be one of \(Self.eventStatuses.joined(separator: ", "))")
        }
        if let d = q.get("delivery"), DeliveryStatus(rawValue: d) == nil {
            throw AdminInputError(message: "delivery must be one of \(DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var before: Int64?
        if let raw = q.get("before") {
            guard let cursor = Int64(raw), cursor > 0 else { throw AdminInputError(message: "before=\(raw.prefix(40)) is not a cursor from nextCursor") }
            before = cursor
        }
        let search = q.get("q").map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        let limit = try limit(request)
        let events = try await runtime.store.listEvents(EventFilter(
            source: q.get("source"), type: q.get("type"), status: q.get("status"),
            sinceMillis: try time(request, "since"), untilMillis: try time(request, "until"), limit: limit,
            query: search, delivery: q.get("delivery"), before: before))
        let next: JSONValue = events.count == limit ? events.last.map { .string(String($0.cursor)) } ?? .null : .null
        return JSONResponse.make(.ok, ["events": .array(events.map(AdminJSON.event)), "nextCursor": next])
    }

    var taskLinks: [String: TaskLinkTemplate] { runtime.config.targets.compactMapValues(\.taskLink) }

    static let eventStatuses = PlannedEvent.Status.allCases.map(\.rawValue)

    func listTargets() async throws -> Response {
        let stats = try await runtime.store.queueStats(nowMillis: WallClock.nowMillis())
        let targets = runtime.config.targets.keys.sorted().compactMap { name in
            runtime.config.targets[name].map { AdminJSON.target($0, status: runtime.targetStatus.entry(name), stats: stats) }
        }
        return JSONResponse.make(.ok, ["targets": .array(targets)])
    }

    func listRules() -> Response {
        JSONResponse.make(.ok, AdminJSON.rules(runtime.rules, status: runtime.ruleStatus.current,
                                               files: runtime.config.rules))
    }

    func showEvent(_ id: String) async throws -> Response {
        guard let detail = try await runtime.store.eventDetail(id: id) else { return JSONResponse.error(404, "no event \(id.prefix(60))") }
        return JSONResponse.make(.ok, AdminJSON.detail(detail, taskLinks: taskLinks))
    }

    func listJobs(_ request: Request) async throws -> Response {
        let jobs = try await runtime.store.listJobs(try jobFilter(request.uri.queryParameters, request))
        return JSONResponse.make(.ok, ["jobs": .array(jobs.map { AdminJSON.job($0, taskLinks: taskLinks) })])
    }

    func retry(_ id: String) async throws -> Response {
        guard try await runtime.store.retryJob(id: id, nowMillis: WallClock.nowMillis()) else {
            return JSONResponse.error(409, "job \(id.prefix(60)) is unknown, running or already succeeded")
        }
        runtime.wake.signal()
        return JSONResponse.make(.ok, ["job": .string(id), "state": "pending"])
    }

    func retryDead(_ request: Request) async throws -> Response {
        let n = try await runtime.store.retryDeadJobs(try jobFilter(request.uri.queryParameters, request), nowMillis: WallClock.nowMillis())
        if n > 0 { runtime.wake.signal() }
        return JSONResponse.make(.ok, ["retried": .number(Double(n))])
    }

    func listAgents() async throws -> Response {
        let counts = try await runtime.store.agentRunCounts()
        let agents = runtime.config.agents.keys.sorted().compactMap { runtime.config.agents[$0] }
        return JSONResponse.make(.ok, ["agents": .array(agents.map { AdminJSON.agent($0, status: runtime.agentStatus.status($0.name), counts: counts) })])
    }

    func listRuns(_ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        if let s = q.get("state"), !AdminJSON.agentRunStates.contains(s) {
            throw AdminInputError(message: "state must be one of \(AdminJSON.agentRunStates.joined(separator: ", "))")
        }
        if let a = q.get("agent"), runtime.config.agents[a] == nil {
            throw AdminInputError(message: "no agent \(a.prefix(60)) is configured; configured: \(runtime.config.agents.keys.sorted().joined(separator: ", "))")
        }
        let state = q.get("state").map { $0 == "done" ? "done" : $0 }
        let runs = try await runtime.store.listAgentRuns(agent: q.get("agent"), phase: state, limit: try limit(request))
        return JSONResponse.make(.ok, ["runs": .array(runs.map(AdminJSON.agentRun))])
    }

    func showRun(_ id: String) async throws -> Response {
        guard let run = try await runtime.store.agentRun(id: id) else { return JSONResponse.error(404, "no agent run \(id.prefix(60))") }
        let calls = try await runtime.store.agentRunCalls(runId: id, limit: 10_000)
        return JSONResponse.make(.ok, AdminJSON.agentRunDetail(run, calls: calls))
    }

    func replay(_ id: String) async throws -> Response {
        do {
            let ids = try await EventReplanner(config: runtime.config, rules: runtime.rules).replay(eventId: id, store: runtime.store)
            if !ids.isEmpty { runtime.wake.signal() }
            return JSONResponse.make(.ok, ["event": .string(id), "jobs": .array(ids.map(JSONValue.string))])
        } catch let e as EventReplanner.ReplayError {
            if case .unknownEvent = e { return JSONResponse.error(404, e.description) }
            return JSONResponse.error(409, e.description)
        }
    }
}
