import TaskBridgeCore

/// The state behind GroupChat's Agent API (`/api/v1/agent/*`): the agents that hold
/// `gca_` tokens and the runs delegated to them, with the documented transitions
/// (PENDING → RUNNING on start, RUNNING → FINISHED on complete, RUNNING → ERROR on
/// error, comments in any status) and cost derivation. Pure: ``GroupChatFake`` parses
/// requests and calls in here; ``FakeWorkspace`` supplies the task each run is about.
///
/// Times are the real wall clock in Unix ms (not ``FakeWorkspace/clock``), so a test can
/// measure how long a run waited before an agent picked it up.
public struct FakeAgentRuns: Sendable {
    public typealias Failure = FakeWorkspace.Failure

    /// An agent as its token's holder sees it (`GET /api/v1/agent/me`).
    public struct Agent: Sendable, Hashable {
        public var agentUserId: String
        public var name: String
        public var description: String
        public var token: String
        public var ownerId: String
        public var ownerName: String
        public var createdAt: Double

        public init(agentUserId: String, name: String, description: String, token: String, ownerId: String, ownerName: String,
                    createdAt: Double) {
            self.agentUserId = agentUserId
            self.name = name
            self.description = description
            self.token = token
            self.ownerId = ownerId
            self.ownerName = ownerName
            self.createdAt = createdAt
        }
    }

    public enum Status: String, Sendable, CaseIterable {
        case pending = "PENDING", running = "RUNNING", finished = "FINISHED", error = "ERROR", stopped = "STOPPED", waiting = "WAITING"

        /// A run in these blocks a new delegation of the same task to the same agent.
        public var isActive: Bool { self == .pending || self == .running || self == .waiting }
    }

    public struct Activity: Sendable, Hashable {
        public var id: String
        public var type: String
        public var body: String?
        public var userId: String
        public var userName: String?
        public var createdAt: Double
    }

    public struct CostTurn: Sendable, Hashable {
        public var turn: Int
        public var pendingSince: Double
        public var completedAt: Double
        public var stepCostUsd: Double
        public var totalCostUsd: Double
    }

    public struct Run: Sendable, Hashable {
        public let id: String
        public let agentUserId: String
        public let taskId: String
        public let workspaceId: String
        public var prompt: String?
        public var ownerId: String
        public var ownerName: String?
        public var status: Status
        public let createdAt: Double
        public var updatedAt: Double
        /// The turn in progress (1 for a fresh run; each requeue starts another).
        public var turn = 1
        /// When the current turn became PENDING.
        public var pendingSince: Double
        public var totalCostUsd: Double?
        public var costTurns: [CostTurn] = []
        public var activity: [Activity] = []
        /// The transitions applied, in order ("start", "comment", "complete", …).
        public var transitions: [String] = []
        public var repoUrl: String?
        public var pullRequestUrl: String?
        public var branchName: String?
        /// Creation order, to break ties between runs created in the same millisecond.
        let sequence: Int
    }

    public var agents: [Agent] = []
    public private(set) var runs: [String: Run] = [:]
    /// Run ids in creation order.
    public private(set) var order: [String] = []
    var nextActivity = 1
    public var clock: @Sendable () -> Double = { Double(WallClock.nowMillis()) }

    public init(agents: [Agent] = []) { self.agents = agents }

    /// The two agents of ``FakeWorkspace/standard()``, both owned by Ada Lovelace.
    public static func standard() -> FakeAgentRuns {
        FakeAgentRuns(agents: [
            Agent(agentUserId: "agent-triage01", name: "Triage Bot", description: "Investigates incidents",
                  token: GroupChatFake.triageAgentToken, ownerId: "user_ada", ownerName: "Ada Lovelace", createdAt: 1_690_000_000_000),
            Agent(agentUserId: "agent-coder01", name: "PostHog Coder", description: "Fixes bugs and opens pull requests",
                  token: GroupChatFake.coderAgentToken, ownerId: "user_ada", ownerName: "Ada Lovelace", createdAt: 1_690_000_000_000),
        ])
    }

    /// The agent holding `token`; only `gca_` tokens name agents.
    public func agent(token: String) -> Agent? {
        guard token.hasPrefix("gca_") else { return nil }
        return agents.first { $0.token == token }
    }

    public func agent(id: String) -> Agent? { agents.first { $0.agentUserId == id } }

    /// Runs in creation order.
    public var allRuns: [Run] { order.compactMap { runs[$0] } }

    /// The agent's run of the task that is still PENDING, RUNNING or WAITING, if any.
    public func activeRun(agentUserId: String, taskId: String) -> Run? {
        allRuns.last { $0.agentUserId == agentUserId && $0.taskId == taskId && $0.status.isActive }
    }

    @discardableResult
    public mutating func create(id: String, agentUserId: String, taskId: String, workspaceId: String, prompt: String?,
                                ownerId: String, ownerName: String?) -> Run {
        let now = clock()
        let run = Run(id: id, agentUserId: agentUserId, taskId: taskId, workspaceId: workspaceId, prompt: prompt, ownerId: ownerId,
                      ownerName: ownerName, status: .pending, createdAt: now, updatedAt: now, pendingSince: now, sequence: order.count)
        runs[id] = run
        order.append(id)
        return run
    }

    // MARK: Agent writes

    /// `POST /runs/{id}/start`: PENDING → RUNNING, posting `message` (default "I'm on it.").
    public mutating func start(_ id: String, agent: Agent, body: [String: JSONValue]) throws(Failure) -> JSONValue {
        try FakeWorkspace.rejectUnknown(body, allowed: ["message"])
        let message = try Self.text(body, "message", required: false)
        var run = try owned(id, by: agent)
        guard run.status == .pending else { throw Failure(409, "Run is \(run.status.rawValue), not PENDING") }
        run.status = .running
        let activityId = post(&run, type: "agent_started", body: message ?? "I'm on it.", agent: agent, transition: "start")
        return answer(run, activityId: activityId, cost: nil)
    }

    /// `POST /runs/{id}/comment`: a progress comment, in any status.
    public mutating func comment(_ id: String, agent: Agent, body: [String: JSONValue]) throws(Failure) -> JSONValue {
        try FakeWorkspace.rejectUnknown(body, allowed: ["body"])
        let text = try Self.text(body, "body", required: true)
        var run = try owned(id, by: agent)
        let activityId = post(&run, type: "comment", body: text, agent: agent, transition: "comment")
        return answer(run, activityId: activityId, cost: nil)
    }

    /// `POST /runs/{id}/complete` (RUNNING → FINISHED) or `/error` (RUNNING → ERROR), with
    /// optional cost: only a total derives the step from the previous total, only a step
    /// adds to it, both are taken as given.
    public mutating func finish(_ id: String, agent: Agent, body: [String: JSONValue], as outcome: Status) throws(Failure) -> JSONValue {
        precondition(outcome == .finished || outcome == .error, "finish ends a run as FINISHED or ERROR")
        try FakeWorkspace.rejectUnknown(body, allowed: ["body", "stepCostUsd", "totalCostUsd"])
        let text = try Self.text(body, "body", required: true)
        let step = try Self.cost(body, "stepCostUsd")
        let total = try Self.cost(body, "totalCostUsd")
        var run = try owned(id, by: agent)
        guard run.status == .running else { throw Failure(409, "Run is \(run.status.rawValue), not RUNNING") }
        let previous = run.totalCostUsd ?? 0
        if step == nil, let total, total < previous {
            throw Failure(400, "totalCostUsd \(JSONWriter.format(number: total)) is below the run's previous total \(JSONWriter.format(number: previous))")
        }
        let costs: (step: Double, total: Double)? = switch (step, total) {
        case let (step?, total?): (step, total)
        case let (step?, nil): (step, Self.rounded(previous + step))
        case let (nil, total?): (Self.rounded(total - previous), total)
        case (nil, nil): nil
        }
        var turn: CostTurn?
        if let costs {
            let t = CostTurn(turn: run.turn, pendingSince: run.pendingSince, completedAt: clock(), stepCostUsd: costs.step,
                             totalCostUsd: costs.total)
            run.costTurns.append(t)
            run.totalCostUsd = costs.total
            turn = t
        }
        run.status = outcome
        let (type, transition) = outcome == .finished ? ("agent_completed", "complete") : ("agent_error", "error")
        let activityId = post(&run, type: type, body: text, agent: agent, transition: transition)
        return answer(run, activityId: activityId, cost: turn)
    }

    // MARK: The user's side (test controls)

    /// The owner stopped the run: PENDING/RUNNING/WAITING → STOPPED. False when it was not active.
    public mutating func stop(_ id: String) -> Bool {
        guard var run = runs[id], run.status.isActive else { return false }
        run.status = .stopped
        _ = post(&run, type: "stopped", body: "Stopped by \(run.ownerName ?? run.ownerId)", userId: run.ownerId,
                 userName: run.ownerName, transition: "stop")
        return true
    }

    /// The owner replied to a run that ended (or waits): FINISHED/ERROR/WAITING → PENDING
    /// for another turn, so the agent picks it up again. False when it could not be requeued.
    public mutating func requeue(_ id: String, message: String) -> Bool {
        guard var run = runs[id], [.finished, .error, .waiting].contains(run.status) else { return false }
        run.status = .pending
        run.turn += 1
        run.pendingSince = clock()
        _ = post(&run, type: "comment", body: message, userId: run.ownerId, userName: run.ownerName, transition: "requeue")
        return true
    }

    // MARK: Reads

    /// `GET /runs`: the agent's runs, most recent first, filtered as the query asks.
    public func list(agent: Agent, status: String?, workspaceId: String?, limit: String?) throws(Failure) -> [Run] {
        var wanted: Status?
        if let status {
            guard let s = Status(rawValue: status) else {
                throw Failure(400, "status must be one of " + Status.allCases.map(\.rawValue).joined(separator: ", "))
            }
            wanted = s
        }
        var count = Int.max
        if let limit {
            guard let n = Int(limit), n > 0 else { throw Failure(400, "limit must be a positive integer") }
            count = n
        }
        let mine = runs.values.filter { run in
            run.agentUserId == agent.agentUserId && (wanted == nil || run.status == wanted)
                && (workspaceId == nil || run.workspaceId == workspaceId)
        }
        return Array(mine.sorted { ($0.createdAt, $0.sequence) > ($1.createdAt, $1.sequence) }.prefix(count))
    }

    /// The agent's run, or 404 as the API answers for another agent's run.
    public func owned(_ id: String, by agent: Agent) throws(Failure) -> Run {
        guard let run = runs[id], run.agentUserId == agent.agentUserId else { throw Failure(404, "Run not found") }
        return run
    }

    /// A run as `GET /runs` lists it.
    public static func listItem(_ run: Run, taskTitle: String?) -> JSONValue {
        ["id": .string(run.id), "taskId": .string(run.taskId), "taskTitle": string(taskTitle), "status": .string(run.status.rawValue),
         "prompt": string(run.prompt), "owner": owner(run), "createdAt": .number(run.createdAt), "updatedAt": .number(run.updatedAt),
         "totalCostUsd": run.totalCostUsd.map(JSONValue.number) ?? .null, "costTurns": .array(run.costTurns.map(render))]
    }

    /// A run as `GET /runs/{id}` details it, with `task` rendered by the caller.
    public static func detail(_ run: Run, task: JSONValue) -> JSONValue {
        let activity: [JSONValue] = run.activity.map { a in
            ["id": .string(a.id), "type": .string(a.type), "body": string(a.body), "userId": .string(a.userId),
             "userName": string(a.userName), "createdAt": .number(a.createdAt)]
        }
        return ["id": .string(run.id), "status": .string(run.status.rawValue), "prompt": string(run.prompt), "owner": owner(run),
                "task": task, "activity": .array(activity), "createdAt": .number(run.createdAt), "updatedAt": .number(run.updatedAt),
                "totalCostUsd": run.totalCostUsd.map(JSONValue.number) ?? .null, "costTurns": .array(run.costTurns.map(render)),
                "repoUrl": string(run.repoUrl), "pullRequestUrl": string(run.pullRequestUrl), "branchName": string(run.branchName)]
    }

    public static func me(_ agent: Agent) -> JSONValue {
        ["name": .string(agent.name), "description": .string(agent.description), "agentUserId": .string(agent.agentUserId),
         "ownerId": .string(agent.ownerId), "ownerName": .string(agent.ownerName), "createdAt": .number(agent.createdAt)]
    }

    // MARK: Helpers

    mutating func post(_ run: inout Run, type: String, body: String?, agent: Agent, transition: String) -> String {
        post(&run, type: type, body: body, userId: agent.agentUserId, userName: agent.name, transition: transition)
    }

    mutating func post(_ run: inout Run, type: String, body: String?, userId: String, userName: String?, transition: String) -> String {
        let now = clock()
        let id = "act_\(nextActivity)"
        nextActivity += 1
        run.activity.append(Activity(id: id, type: type, body: body, userId: userId, userName: userName, createdAt: now))
        run.transitions.append(transition)
        run.updatedAt = now
        runs[run.id] = run
        return id
    }

    func answer(_ run: Run, activityId: String, cost: CostTurn?) -> JSONValue {
        ["id": .string(run.id), "status": .string(run.status.rawValue), "activityId": .string(activityId),
         "cost": cost.map(Self.render) ?? .null]
    }

    static func render(_ turn: CostTurn) -> JSONValue {
        ["turn": .number(Double(turn.turn)), "pendingSince": .number(turn.pendingSince), "completedAt": .number(turn.completedAt),
         "stepCostUsd": .number(turn.stepCostUsd), "totalCostUsd": .number(turn.totalCostUsd)]
    }

    static func owner(_ run: Run) -> JSONValue { ["id": .string(run.ownerId), "name": string(run.ownerName)] }

    static func string(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }

    /// Derived costs lose binary noise (0.3 − 0.1 is 0.2, not 0.19999999999999998).
    static func rounded(_ x: Double) -> Double { (x * 1e10).rounded() / 1e10 }

    static func text(_ body: [String: JSONValue], _ key: String, required: Bool) throws(Failure) -> String? {
        guard let value = body[key] else {
            if required { throw Failure(400, "\(key) is required") }
            return nil
        }
        guard let s = value.stringValue, !s.isEmpty else { throw Failure(400, "\(key) must be a non-empty string") }
        return s
    }

    static func cost(_ body: [String: JSONValue], _ key: String) throws(Failure) -> Double? {
        guard let value = body[key] else { return nil }
        guard let n = value.numberValue, n.isFinite, n >= 0 else { throw Failure(400, "\(key) must be a non-negative number") }
        return n
    }
}
