import TaskBridgeCore

/// Executes rendered steps against one GroupChat workspace: resolves names and links,
/// builds the documented requests, and reports outputs for later steps.
public struct GroupChatConnector: TargetConnector {
    public let target: String
    let transport: any GroupChatTransport
    public let directory: any GroupChatNameResolver
    let defaultProject: String?
    let batcher: BatchCoalescer?
    let wallClock: @Sendable () -> Double
    /// The live transport, whose credentials a reload may replace, and the config they
    /// are read from.
    let live: HTTPGroupChatTransport?
    var config: TargetConfig?

    /// The task fields a job keeps from a step's output when no later step reads more.
    public static let taskSummaryKeys = ["id", "projectId", "stageId", "title", "completed", "ownerId"]

    public init(target: String, transport: any GroupChatTransport, directory: any GroupChatNameResolver, defaultProject: String?,
                batcher: BatchCoalescer?, wallClock: @escaping @Sendable () -> Double, live: HTTPGroupChatTransport? = nil) {
        self.live = live
        self.target = target
        self.transport = transport
        self.directory = directory
        self.defaultProject = defaultProject
        self.batcher = batcher
        self.wallClock = wallClock
    }

    /// The connector for a configured target: its name directory and, unless turned
    /// off, its batch coalescer, both over `transport`.
    init(config: TargetConfig, transport: any GroupChatTransport, wallClock: @escaping @Sendable () -> Double,
         live: HTTPGroupChatTransport?) {
        let settings = GroupChatKind.settings(config)
        self.init(target: config.name, transport: transport,
                  directory: GroupChatDirectory(transport: transport, ttl: settings.directoryCacheSeconds, wallClock: wallClock),
                  defaultProject: settings.defaultProject,
                  batcher: settings.batchEnabled
                      ? BatchCoalescer(transport: transport, maxOperations: settings.batchMaxOperations,
                                       callSeconds: config.timeoutSeconds + 1, wallClock: wallClock) : nil,
                  wallClock: wallClock, live: live)
        self.config = config
    }

    /// Keeps the task's identity and place, and the agent run, without the full object.
    public func compact(_ output: JSONValue) -> JSONValue {
        guard case .object(var o) = output else { return output }
        if case .object(let task)? = o["task"] {
            var kept: [String: JSONValue] = [:]
            for key in Self.taskSummaryKeys { kept[key] = task[key] }
            o["task"] = .object(kept)
        }
        return .object(o)
    }

    public func reloadCredentials(secrets: SecretResolver) -> Bool {
        guard let live, let config, case .value(let token)? = config.token.map(secrets.resolve),
              let credentials = try? GroupChatCredentials(
                  token: token, workspaceId: GroupChatKind.settings(config).workspaceId?.resolve(secrets.environment))
        else { return false }
        return live.replaceCredentials(credentials)
    }

    /// The marker hidden (as an HTML comment) at the end of descriptions of tasks the
    /// bridge creates.
    public static func marker(_ key: String) -> String { "<!-- taskbridge:\(key) -->" }

    public func execute(_ step: RenderedStep, context: StepContext) async -> StepResult {
        var wire: [WireRecord] = []
        do throws(StepFailure) {
            let (output, link) = try await run(step, context, &wire)
            return StepResult(outcome: .success(output: output, link: link), wire: wire)
        } catch {
            return StepResult(outcome: .failure(error), wire: wire)
        }
    }

    typealias Link = (key: String, taskId: String, projectId: String?)

    private func run(_ step: RenderedStep, _ ctx: StepContext, _ wire: inout [WireRecord]) async throws(StepFailure) -> (JSONValue, Link?) {
        switch step.action.name {
        case "task.create":
            return try await create(step, ctx, &wire)
        case "agent.delegate":
            let (taskId, _) = try await resolveTask(step, ctx)
            let agentRef = step.values["agent"]?.stringValue ?? ""
            let agentId: String
            (agentId, wire) = try await directory.agentUserId(agentRef, wire: wire)
            var body: [String: JSONValue] = ["taskId": .string(taskId), "agentUserId": .string(agentId)]
            if let prompt = step.values["prompt"]?.stringValue { body["prompt"] = .string(prompt) }
            let response = try await transport.call(
                GroupChatRequest(method: "POST", path: "/api/v1/agents/delegate", body: .object(body), idempotencyKey: ctx.idempotencyKey),
                wire: &wire, now: wallClock())
            // `already_active` means a run for this agent and task exists: that is the
            // outcome we wanted, not an error.
            let run = response.json ?? .object([:])
            return (.object(["task": .object(["id": .string(taskId)]), "run": run,
                             "alreadyActive": .bool(run["status"]?.stringValue == "already_active")]),
                    step.linkKey.map { ($0, taskId, nil) })
        default:
            let (taskId, linkedProject) = try await resolveTask(step, ctx)
            var fields = try await updateFields(step, &wire)
            switch step.action.name {
            case "task.move":
                let projectId = try await projectForTask(taskId, step: step, linkedProject: linkedProject, ctx: ctx, &wire)
                let stageId: String
                (stageId, wire) = try await directory.stageId(step.values["stage"]?.stringValue ?? "", projectId: projectId, wire: wire)
                fields["stageId"] = .string(stageId)
            case "task.complete": fields["completed"] = true
            case "task.reopen": fields["completed"] = false
            case "task.unassign": fields["ownerId"] = .null
            default: break
            }
            let task = try await patch(taskId, fields, ctx, &wire)
            await directory.remember(task: task)
            return (.object(["task": task]), step.linkKey.map { ($0, taskId, task["projectId"]?.stringValue ?? linkedProject) })
        }
    }

    private func create(_ step: RenderedStep, _ ctx: StepContext, _ wire: inout [WireRecord]) async throws(StepFailure) -> (JSONValue, Link?) {
        if let key = step.linkKey, let linked = try await lookup(key, ctx) {
            switch step.ifLinked {
            case .skip:
                var task: [String: JSONValue] = ["id": .string(linked.taskId)]
                if let p = linked.projectId { task["projectId"] = .string(p) }
                return (.object(["task": .object(task), "created": false]), nil)
            case .update, .reopen:
                var fields = try await updateFields(step, &wire)
                if step.ifLinked == .reopen { fields["completed"] = false }
                let task = fields.isEmpty ? .object(["id": .string(linked.taskId)]) : try await patch(linked.taskId, fields, ctx, &wire)
                return (.object(["task": task, "created": false]), nil)
            }
        }
        guard let projectRef = step.values["project"]?.stringValue ?? defaultProject else {
            throw StepFailure.permanent("task.create needs a project: set \"project\" on the step or \"defaultProject\" on target \(target)")
        }
        let projectId: String
        (projectId, wire) = try await directory.projectId(projectRef, wire: wire)
        let marker = Self.marker(ctx.idempotencyKey)
        var body: [String: JSONValue] = ["projectId": .string(projectId), "title": step.values["title"] ?? ""]
        let description = step.values["description"]?.stringValue
        body["description"] = .string(description.map { $0 + "\n\n" + marker } ?? marker)
        if let stage = step.values["stage"]?.stringValue {
            let stageId: String
            (stageId, wire) = try await directory.stageId(stage, projectId: projectId, wire: wire)
            body["stageId"] = .string(stageId)
        }
        if let owner = step.values["owner"]?.stringValue {
            let ownerId: String
            (ownerId, wire) = try await directory.ownerId(owner, wire: wire)
            body["ownerId"] = .string(ownerId)
        }
        for key in ["dueDate", "dueTime", "estimate"] {
            if let v = step.values[key], case .number = v { body[key] = v }
        }
        if ctx.uncertain, let existing = try await findCreated(projectId: projectId, marker: marker, &wire) {
            await directory.remember(task: existing)
            return (.object(["task": existing, "created": true, "reconciled": true]),
                    step.linkKey.map { ($0, existing["id"]?.stringValue ?? "", projectId) })
        }
        let response = try await transport.call(
            GroupChatRequest(method: "POST", path: "/api/v1/tasks", body: .object(body), idempotencyKey: ctx.idempotencyKey),
            wire: &wire, now: wallClock())
        guard let task = response.json, let id = task["id"]?.stringValue else {
            // Created, probably, but we cannot tell which task: retry as uncertain so the
            // marker finds it.
            throw StepFailure(.retryable, "POST /api/v1/tasks answered \(response.status) without a task id", status: response.status, sent: true)
        }
        await directory.remember(task: task)
        return (.object(["task": task, "created": true]), step.linkKey.map { ($0, id, projectId) })
    }

    /// Looks for a task this step already created (its marker in the description).
    private func findCreated(projectId: String, marker: String, _ wire: inout [WireRecord]) async throws(StepFailure) -> JSONValue? {
        let response = try await transport.call(
            GroupChatRequest(method: "GET", path: "/api/v1/tasks", query: ["projectId": projectId]), wire: &wire, now: wallClock())
        let tasks = GroupChatNames.items(response.json, key: "tasks") ?? []
        return tasks.first { $0["description"]?.stringValue?.contains(marker) == true }
    }

    private func lookup(_ key: String, _ ctx: StepContext) async throws(StepFailure) -> LinkedTask? {
        try await ctx.linkedTask(key)
    }

    private func resolveTask(_ step: RenderedStep, _ ctx: StepContext) async throws(StepFailure) -> (String, String?) {
        let task = try await ctx.task(of: step, target: target)
        return (task.taskId, task.projectId)
    }

    /// Fields shared by updates: title, description, owner, due date/time, estimate.
    private func updateFields(_ step: RenderedStep, _ wire: inout [WireRecord]) async throws(StepFailure) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        for key in ["title", "description", "dueDate", "dueTime", "estimate"] {
            if let v = step.values[key] { fields[key] = v }
        }
        if let owner = step.values["owner"] {
            if case .string(let ref) = owner {
                let ownerId: String
                (ownerId, wire) = try await directory.ownerId(ref, wire: wire)
                fields["ownerId"] = .string(ownerId)
            } else {
                fields["ownerId"] = .null
            }
        }
        return fields
    }

    /// The project a task lives in, for stage names: the step's `project`, the link's,
    /// what we already know, or — once per task — read back with an empty PATCH.
    private func projectForTask(_ taskId: String, step: RenderedStep, linkedProject: String?, ctx: StepContext,
                                _ wire: inout [WireRecord]) async throws(StepFailure) -> String {
        if let ref = step.values["project"]?.stringValue {
            let id: String
            (id, wire) = try await directory.projectId(ref, wire: wire)
            return id
        }
        if let linkedProject { return linkedProject }
        if let known = await directory.knownProject(ofTask: taskId) { return known }
        let response = try await transport.call(
            GroupChatRequest(method: "PATCH", path: "/api/v1/tasks", body: .object(["id": .string(taskId)])), wire: &wire, now: wallClock())
        guard let project = response.json?["projectId"]?.stringValue else {
            throw StepFailure.permanent("task \(taskId) has no project; name a stage by id or set \"project\" on the step")
        }
        await directory.remember(task: response.json)
        return project
    }

    private func patch(_ taskId: String, _ fields: [String: JSONValue], _ ctx: StepContext,
                       _ wire: inout [WireRecord]) async throws(StepFailure) -> JSONValue {
        if let batcher {
            switch await batcher.update(id: taskId, fields: fields, idempotencyKey: ctx.idempotencyKey, fullTask: ctx.fullTask) {
            case .ok(let task, let record):
                wire.append(record)
                return task
            case .failed(let failure, let record):
                if let record { wire.append(record) }
                throw failure
            }
        }
        var body = fields
        body["id"] = .string(taskId)
        let response = try await transport.call(
            GroupChatRequest(method: "PATCH", path: "/api/v1/tasks", body: .object(body), idempotencyKey: ctx.idempotencyKey),
            wire: &wire, now: wallClock())
        return response.json ?? .object(["id": .string(taskId)])
    }
}
