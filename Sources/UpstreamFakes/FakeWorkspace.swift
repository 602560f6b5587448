import TaskBridgeCore

/// The state of the fake GroupChat workspace and the documented rules for changing it.
/// Pure: the HTTP layer (``GroupChatFake``) parses requests and calls in here.
public struct FakeWorkspace: Sendable {
    public struct Failure: Error, Sendable {
        public let status: Int
        public let message: String
        public init(_ status: Int, _ message: String) {
            self.status = status
            self.message = message
        }
    }

    public var workspaceId = "ws_1"
    public var projects: [JSONValue] = []
    public var statuses: [JSONValue] = []
    public var members: [JSONValue] = []
    public var agents: [JSONValue] = []
    public private(set) var tasks: [String: [String: JSONValue]] = [:]
    public private(set) var taskOrder: [String] = []
    /// The Agent API's side: agent identities and every run delegated to them.
    public var agentRuns = FakeAgentRuns()
    /// Every change applied, in order: what actually happened, whatever the client saw.
    /// (Off for benchmarks, where it would only grow.)
    public private(set) var applied: [AppliedChange] = []
    public var keepsAppliedLog = true

    public mutating func clearApplied() { applied.removeAll() }

    mutating func log(_ change: AppliedChange) {
        if keepsAppliedLog { applied.append(change) }
    }
    var nextId = 1
    /// Tasks per column, for the `order` of a new task without scanning every task.
    var columnCounts: [JSONValue: Int] = [:]

    public struct AppliedChange: Sendable, Hashable {
        public var op: String
        public var taskId: String
        public var fields: [String: JSONValue]
    }
    public var clock: @Sendable () -> Double = { 1_700_000_000_000 }

    /// A workspace with one project ("Engineering", id `proj_eng`) whose board has the
    /// four standard columns, a second project ("Website", `proj_web`) with a "Triage"
    /// column, two members and two agents (Triage Bot, PostHog Coder) with `gca_` tokens.
    public static func standard() -> FakeWorkspace {
        var w = FakeWorkspace()
        w.projects = [
            ["id": "proj_eng", "workspaceId": "ws_1", "name": "Engineering", "description": nil, "color": nil, "icon": nil,
             "emoji": nil, "order": 0, "widgetEnabled": false, "widgetVisibility": nil],
            ["id": "proj_web", "workspaceId": "ws_1", "name": "Website", "description": nil, "color": nil, "icon": nil,
             "emoji": nil, "order": 1, "widgetEnabled": true, "widgetVisibility": "public"],
        ]
        w.statuses = [
            ["id": "st_todo", "projectId": "proj_eng", "title": "To do", "type": "todo", "order": 0],
            ["id": "st_doing", "projectId": "proj_eng", "title": "Doing", "type": "doing", "order": 1],
            ["id": "st_review", "projectId": "proj_eng", "title": "In review", "type": "in_review", "order": 2],
            ["id": "st_done", "projectId": "proj_eng", "title": "Done", "type": "done", "order": 3],
            ["id": "st_web_triage", "projectId": "proj_web", "title": "Triage", "type": "todo", "order": 0],
            ["id": "st_web_todo", "projectId": "proj_web", "title": "Backlog", "type": "todo", "order": 1],
            ["id": "st_web_done", "projectId": "proj_web", "title": "Shipped", "type": "done", "order": 2],
        ]
        w.members = [
            ["id": "mem_1", "userId": "user_ada", "role": "admin", "name": "Ada Lovelace", "imageUrl": nil],
            ["id": "mem_2", "userId": "user_grace", "role": "member", "name": "Grace Hopper", "imageUrl": nil],
        ]
        w.agents = [
            ["agentUserId": "agent-triage01", "name": "Triage Bot", "description": "Investigates incidents"],
            ["agentUserId": "agent-coder01", "name": "PostHog Coder", "description": "Fixes bugs and opens pull requests"],
        ]
        w.agentRuns = .standard()
        return w
    }

    public var allTasks: [[String: JSONValue]] { taskOrder.compactMap { tasks[$0] } }
    public func task(_ id: String) -> [String: JSONValue]? { tasks[id] }

    mutating func makeId(_ prefix: String) -> String {
        defer { nextId += 1 }
        return "\(prefix)_\(nextId)"
    }

    func status(_ id: String) -> JSONValue? { statuses.first { $0["id"]?.stringValue == id } }

    static let createFields: Set<String> = ["projectId", "stageId", "title", "description", "ownerId", "dueDate", "dueTime", "estimate"]
    static let updateFields: Set<String> = ["title", "description", "ownerId", "stageId", "dueDate", "dueTime", "estimate", "completed"]

    static func rejectUnknown(_ body: [String: JSONValue], allowed: Set<String>) throws(Failure) {
        for key in body.keys.sorted() where !allowed.contains(key) {
            throw Failure(400, "Unknown field: \(key)")
        }
    }

    func checkTypes(_ body: [String: JSONValue], projectId: String?) throws(Failure) {
        for key in ["dueDate", "dueTime", "estimate"] {
            if let v = body[key], !(v.isNull || v.numberValue != nil) { throw Failure(400, "\(key) must be a number or null") }
        }
        for key in ["title", "description", "ownerId", "stageId"] {
            if let v = body[key], !(v.isNull || v.stringValue != nil) { throw Failure(400, "\(key) must be a string or null") }
        }
        if let title = body["title"], title.stringValue?.isEmpty != false { throw Failure(400, "title must be a non-empty string") }
        if let owner = body["ownerId"]?.stringValue, !members.contains(where: { $0["userId"]?.stringValue == owner }) {
            throw Failure(400, "ownerId \(owner) is not a member of this workspace")
        }
        if let stage = body["stageId"]?.stringValue {
            guard let s = status(stage) else { throw Failure(400, "Unknown stageId: \(stage)") }
            if let projectId, s["projectId"]?.stringValue != projectId { throw Failure(400, "stageId \(stage) belongs to another project") }
        }
    }

    public mutating func createTask(_ body: [String: JSONValue], creator: String) throws(Failure) -> JSONValue {
        try Self.rejectUnknown(body, allowed: Self.createFields)
        guard let projectId = body["projectId"]?.stringValue else { throw Failure(400, "projectId is required") }
        guard projects.contains(where: { $0["id"]?.stringValue == projectId }) else { throw Failure(404, "Project not found") }
        guard body["title"] != nil else { throw Failure(400, "title is required") }
        try checkTypes(body, projectId: projectId)
        let now = clock()
        let id = makeId("task")
        var stageId = body["stageId"] ?? .null
        if stageId.isNull, let first = statuses.filter({ $0["projectId"]?.stringValue == projectId }).min(by: { ($0["order"]?.numberValue ?? 0) < ($1["order"]?.numberValue ?? 0) }) {
            stageId = first["id"] ?? .null
        }
        let order = Double(columnCounts[stageId, default: 0])
        columnCounts[stageId, default: 0] += 1
        let task: [String: JSONValue] = [
            "id": .string(id), "workspaceId": .string(workspaceId), "projectId": .string(projectId), "stageId": stageId,
            "title": body["title"]!, "description": body["description"] ?? .null, "estimate": body["estimate"] ?? .null,
            "order": .number(order), "ownerId": body["ownerId"] ?? .null, "creatorId": .string(creator),
            "completed": false, "completedAt": .null, "dueDate": body["dueDate"] ?? .null, "dueTime": body["dueTime"] ?? .null,
            "source": .null, "createdAt": .number(now), "updatedAt": .number(now), "lastActivityAt": .number(now),
        ]
        tasks[id] = task
        taskOrder.append(id)
        log(AppliedChange(op: "create", taskId: id, fields: body))
        return .object(task)
    }

    public mutating func updateTask(_ body: [String: JSONValue]) throws(Failure) -> JSONValue {
        guard let id = body["id"]?.stringValue else { throw Failure(400, "id is required") }
        var fields = body
        fields["id"] = nil
        try Self.rejectUnknown(fields, allowed: Self.updateFields)
        guard var task = tasks[id] else { throw Failure(404, "Task not found") }
        try checkTypes(fields, projectId: task["projectId"]?.stringValue)
        if let c = fields["completed"], c.boolValue == nil { throw Failure(400, "completed must be a boolean") }
        for (k, v) in fields where k != "completed" { task[k] = v }
        if let completed = fields["completed"]?.boolValue {
            task["completed"] = .bool(completed)
            task["completedAt"] = completed ? .number(clock()) : .null
            // Auto-move to the nearest done / todo column when one exists.
            if fields["stageId"] == nil, let project = task["projectId"]?.stringValue {
                let wanted = completed ? "done" : "todo"
                let current = task["stageId"].flatMap { $0.stringValue }.flatMap(status)
                if current?["type"]?.stringValue != wanted,
                   let column = statuses.filter({ $0["projectId"]?.stringValue == project && $0["type"]?.stringValue == wanted })
                    .min(by: { ($0["order"]?.numberValue ?? 0) < ($1["order"]?.numberValue ?? 0) }) {
                    task["stageId"] = column["id"] ?? .null
                }
            }
        }
        let now = clock()
        task["updatedAt"] = .number(now)
        task["lastActivityAt"] = .number(now)
        tasks[id] = task
        log(AppliedChange(op: "update", taskId: id, fields: fields))
        return .object(task)
    }

    public mutating func deleteTask(_ id: String) throws(Failure) {
        guard tasks.removeValue(forKey: id) != nil else { throw Failure(404, "Task not found") }
        taskOrder.removeAll { $0 == id }
        log(AppliedChange(op: "delete", taskId: id, fields: [:]))
    }

    /// - Parameter failing: asked per operation (with its task id); `true` fails it with
    ///   an internal error without applying it (chaos).
    public mutating func batch(_ body: [String: JSONValue], failing: (JSONValue) -> Bool = { _ in false }) throws(Failure) -> JSONValue {
        try Self.rejectUnknown(body, allowed: ["operations"])
        guard let ops = body["operations"]?.arrayValue else { throw Failure(400, "operations must be an array") }
        guard !ops.isEmpty, ops.count <= 200 else { throw Failure(400, "operations must hold 1 to 200 items") }
        var results: [JSONValue] = []
        for op in ops {
            guard var fields = op.objectValue else {
                results.append(["ok": false, "error": "operation must be an object"])
                continue
            }
            let kind = fields["op"]?.stringValue ?? ""
            fields["op"] = nil
            let id = fields["id"] ?? .null
            if failing(id) {
                results.append(["ok": false, "op": .string(kind), "id": id, "error": "Internal error (injected)"])
                continue
            }
            do throws(Failure) {
                switch kind {
                case "update":
                    let task = try updateTask(fields)
                    results.append(["ok": true, "op": "update", "id": id, "task": task])
                case "delete":
                    try Self.rejectUnknown(fields, allowed: ["id"])
                    try deleteTask(id.stringValue ?? "")
                    results.append(["ok": true, "op": "delete", "id": id])
                default:
                    throw Failure(400, "op must be \"update\" or \"delete\"")
                }
            } catch {
                results.append(["ok": false, "op": .string(kind), "id": id, "error": .string(error.message)])
            }
        }
        return ["results": .array(results)]
    }

    public mutating func delegate(_ body: [String: JSONValue], owner: String) throws(Failure) -> JSONValue {
        try Self.rejectUnknown(body, allowed: ["taskId", "agentUserId", "prompt"])
        guard let taskId = body["taskId"]?.stringValue, let agent = body["agentUserId"]?.stringValue else {
            throw Failure(400, "taskId and agentUserId are required")
        }
        if let p = body["prompt"], p.stringValue == nil { throw Failure(400, "prompt must be a string") }
        guard tasks[taskId] != nil else { throw Failure(404, "Task not found") }
        guard agents.contains(where: { $0["agentUserId"]?.stringValue == agent }) else { throw Failure(404, "Agent not found") }
        // Only a run still PENDING, RUNNING or WAITING blocks a new one.
        if let run = agentRuns.activeRun(agentUserId: agent, taskId: taskId) {
            return ["status": "already_active", "runId": .string(run.id)]
        }
        tasks[taskId]?["ownerId"] = .string(owner)
        log(AppliedChange(op: "delegate", taskId: taskId, fields: body))
        let runId = addAgentRun(agentUserId: agent, taskId: taskId, prompt: body["prompt"]?.stringValue, delegatedBy: owner)
        return ["status": "created", "runId": .string(runId)]
    }

    /// Every run (delegated or added by a test), whatever its status.
    public var runCount: Int { agentRuns.order.count }

    /// The latest run per `agentUserId|taskId`: `{runId, status, prompt}`.
    public var runs: [String: JSONValue] {
        var latest: [String: JSONValue] = [:]
        for run in agentRuns.allRuns {
            latest[run.agentUserId + "|" + run.taskId] = ["runId": .string(run.id), "status": .string(run.status.rawValue),
                                                          "prompt": FakeAgentRuns.string(run.prompt)]
        }
        return latest
    }
}

/// How the workspace's tasks and members appear through the Agent API.
extension FakeWorkspace {
    /// Creates a PENDING run and returns its id. A member delegating owns the run; anyone
    /// else (the workspace key) makes it the first admin's, as GroupChat does.
    @discardableResult
    public mutating func addAgentRun(agentUserId: String, taskId: String, prompt: String?, delegatedBy user: String = "user_ada") -> String {
        let owner = member(user) ?? members.first { $0["role"]?.stringValue == "admin" }
        let id = makeId("run")
        agentRuns.create(id: id, agentUserId: agentUserId, taskId: taskId,
                         workspaceId: tasks[taskId]?["workspaceId"]?.stringValue ?? workspaceId, prompt: prompt,
                         ownerId: owner?["userId"]?.stringValue ?? user, ownerName: owner?["name"]?.stringValue)
        return id
    }

    func member(_ userId: String) -> JSONValue? { members.first { $0["userId"]?.stringValue == userId } }

    /// A member's or an agent's display name.
    func userName(_ userId: String) -> String? {
        member(userId)?["name"]?.stringValue ?? agents.first { $0["agentUserId"]?.stringValue == userId }?["name"]?.stringValue
    }

    /// The task as a run's detail shows it; nulls when the workspace has no such task.
    public func agentTask(_ taskId: String) -> JSONValue {
        let copied = ["title", "description", "projectId", "workspaceId", "ownerId", "dueDate", "dueTime", "estimate", "createdAt",
                      "updatedAt", "lastActivityAt"]
        let task = tasks[taskId]
        var out: [String: JSONValue] = ["id": .string(taskId), "images": [], "status": .null, "creator": .null]
        for key in copied { out[key] = task?[key] ?? .null }
        if let task {
            out["status"] = task["stageId"]?.stringValue.flatMap(status)?["type"] ?? .null
            if let creator = task["creatorId"]?.stringValue {
                out["creator"] = ["id": .string(creator), "name": FakeAgentRuns.string(userName(creator))]
            }
        }
        return .object(out)
    }

    /// `GET /api/v1/agent/runs/{id}` for a run of any agent.
    public func agentRunDetail(_ id: String) -> JSONValue? {
        agentRuns.runs[id].map { FakeAgentRuns.detail($0, task: agentTask($0.taskId)) }
    }

    /// A run as `GET /api/v1/agent/runs` lists it.
    public func agentRunListItem(_ run: FakeAgentRuns.Run) -> JSONValue {
        FakeAgentRuns.listItem(run, taskTitle: tasks[run.taskId]?["title"]?.stringValue)
    }
}
