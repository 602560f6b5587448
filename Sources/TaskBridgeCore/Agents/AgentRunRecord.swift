/// What TaskBridge durably knows about one GroupChat agent run: where it is in its life,
/// what the backend has done, which GroupChat calls may be in flight, and which events
/// are still to be emitted. It is saved before every call that changes something
/// upstream, so a process killed at any moment resumes from it (``AgentRunMachine``).
public struct AgentRunRecord: Sendable, Hashable {
    public enum Phase: String, Sendable, Hashable, CaseIterable {
        /// Seen PENDING; waits for a slot (the agent's concurrency) to be started.
        case queued
        /// `/start` is being sent (or its answer was lost).
        case starting
        /// Started; the backend works on it.
        case working
        /// `/complete` or `/error` is being sent.
        case finishing
        /// Nothing more to do (``outcome`` says how it ended).
        case done
    }

    public enum Outcome: String, Sendable, Hashable {
        /// Completed with `/complete`.
        case completed
        /// Ended with `/error`: the backend failed, a timeout, a budget cap.
        case failed
        /// Stopped by the user in GroupChat, or ended there by something else.
        case stopped
    }

    /// What `finishing` sends.
    public struct Finish: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable { case complete, error }
        public var kind: Kind
        public var body: String
        public init(kind: Kind, body: String) {
            self.kind = kind
            self.body = body
        }
    }

    /// The backend's side: the step being executed and what it has reported.
    public struct Backend: Sendable, Hashable {
        /// Index of the next backend step to execute (``AgentRunMachine`` plans them).
        public var step = 0
        /// The waiting step's saved state (a PostHog run or Zylon interaction followed).
        public var waitState: JSONValue?
        /// The current step may have been sent: reconcile before sending it again.
        public var uncertain = false
        public var taskId: String?
        public var taskSlug: String?
        public var runId: String?
        public var status: String?
        public var branch: String?
        public var prURL: String?
        /// Zylon's answer.
        public var answer: String?
        /// What else PostHog's run put in its `output` (besides the PR), as `key: value` lines.
        public var reported: [String] = []
        public var inputTokens: Double?
        public var outputTokens: Double?
        public init() {}
    }

    public var runId: String
    public var agent: String
    public var taskId: String
    public var taskTitle: String?
    public var taskDescription: String?
    public var projectId: String?
    public var workspaceId: String?
    public var prompt: String
    public var backendTarget: String
    public var backendKind: String
    /// GroupChat's turn of this run, from 1: a run the owner answers after it finished
    /// comes back PENDING as a new turn, worked like a new run.
    public var turn = 1
    public var phase = Phase.queued
    public var outcome: Outcome?
    /// When GroupChat says the run (turn) became pending; else when it was first seen.
    public var appearedAtMillis: Int64?
    public var discoveredAtMillis: Int64
    public var startedAtMillis: Int64?
    public var finishedAtMillis: Int64?
    public var updatedAtMillis: Int64
    /// When the next action is due.
    public var nextAtMillis: Int64
    /// A transition (`start`, `complete`, `error`) sent whose answer is not recorded.
    public var intent: String?
    public var finish: Finish?
    public var backend = Backend()
    /// Progress comments posted (or possibly posted: comments are sent at most once).
    public var comments: [String] = []
    public var summary: String?
    public var error: String?
    public var costUsd: Double?
    /// What the run's earlier turns cost: with ``costUsd``, what the run counts against
    /// the agent's daily budget.
    public var earlierTurnsCostUsd: Double?
    /// Event types to emit (``AgentEvents``), removed once stored.
    public var pendingEvents: [String] = []
    /// Transient failures in a row, for backoff; reset by any success.
    public var failures = 0
    public var lastError: String?
    /// 409s answered to the finishing call while GroupChat still says RUNNING.
    public var conflicts = 0

    public init(runId: String, agent: String, taskId: String, prompt: String, backendTarget: String, backendKind: String,
                discoveredAtMillis: Int64) {
        self.runId = runId
        self.agent = agent
        self.taskId = taskId
        self.prompt = prompt
        self.backendTarget = backendTarget
        self.backendKind = backendKind
        self.discoveredAtMillis = discoveredAtMillis
        self.updatedAtMillis = discoveredAtMillis
        self.nextAtMillis = discoveredAtMillis
    }

    /// Every turn's known cost together (nil when none is known).
    public var totalCostUsd: Double? {
        guard costUsd != nil || earlierTurnsCostUsd != nil else { return nil }
        return (costUsd ?? 0) + (earlierTurnsCostUsd ?? 0)
    }

    /// Counts against the agent's concurrency.
    public var isActive: Bool { phase == .starting || phase == .working || phase == .finishing }
}

extension AgentRunRecord {
    /// The record as stored (compact JSON in the store's `record` column).
    public var json: JSONValue {
        func s(_ v: String?) -> JSONValue { v.map(JSONValue.string) ?? .null }
        func n(_ v: Int64?) -> JSONValue { v.map { .number(Double($0)) } ?? .null }
        func d(_ v: Double?) -> JSONValue { v.map(JSONValue.number) ?? .null }
        let b = backend
        return [
            "runId": .string(runId), "agent": .string(agent), "taskId": .string(taskId), "taskTitle": s(taskTitle),
            "taskDescription": s(taskDescription), "projectId": s(projectId), "workspaceId": s(workspaceId), "prompt": .string(prompt),
            "backendTarget": .string(backendTarget), "backendKind": .string(backendKind), "turn": .number(Double(turn)),
            "phase": .string(phase.rawValue), "outcome": s(outcome?.rawValue), "appearedAt": n(appearedAtMillis),
            "discoveredAt": n(discoveredAtMillis), "startedAt": n(startedAtMillis), "finishedAt": n(finishedAtMillis),
            "updatedAt": n(updatedAtMillis), "nextAt": n(nextAtMillis), "intent": s(intent),
            "finish": finish.map { ["kind": .string($0.kind.rawValue), "body": .string($0.body)] } ?? .null,
            "backend": [
                "step": .number(Double(b.step)), "waitState": b.waitState ?? .null, "uncertain": .bool(b.uncertain),
                "taskId": s(b.taskId), "taskSlug": s(b.taskSlug), "runId": s(b.runId), "status": s(b.status), "branch": s(b.branch),
                "prURL": s(b.prURL), "answer": s(b.answer), "reported": .array(b.reported.map(JSONValue.string)), "inputTokens": d(b.inputTokens), "outputTokens": d(b.outputTokens),
            ],
            "comments": .array(comments.map(JSONValue.string)), "summary": s(summary), "error": s(error), "costUsd": d(costUsd), "earlierTurnsCostUsd": d(earlierTurnsCostUsd),
            "pendingEvents": .array(pendingEvents.map(JSONValue.string)), "failures": .number(Double(failures)),
            "lastError": s(lastError), "conflicts": .number(Double(conflicts)),
        ]
    }

    /// Reads a stored record; `nil` when it is not one (a newer or damaged row).
    public init?(json v: JSONValue) {
        // A damaged row (`1e400` reads as ±∞) must not trap later either: times stay within
        // 0...2^53 so they subtract safely, counters within 0...1_000_000 so they count on.
        func n(_ key: String) -> Int64? { v[key]?.numberValue.map { min(max($0.clampedToInt64, 0), 1 << 53) } }
        func count(_ value: JSONValue?, _ fallback: Int, from low: Int = 0) -> Int {
            Int(min(max(value?.numberValue?.clampedToInt64 ?? Int64(fallback), Int64(low)), 1_000_000))
        }
        guard let runId = v["runId"]?.stringValue, let agent = v["agent"]?.stringValue, let taskId = v["taskId"]?.stringValue,
              let target = v["backendTarget"]?.stringValue, let kind = v["backendKind"]?.stringValue,
              let phase = v["phase"]?.stringValue.flatMap(Phase.init(rawValue:)), let discovered = n("discoveredAt")
        else { return nil }
        self.init(runId: runId, agent: agent, taskId: taskId, prompt: v["prompt"]?.stringValue ?? "", backendTarget: target,
                  backendKind: kind, discoveredAtMillis: discovered)
        taskTitle = v["taskTitle"]?.stringValue
        taskDescription = v["taskDescription"]?.stringValue
        projectId = v["projectId"]?.stringValue
        workspaceId = v["workspaceId"]?.stringValue
        turn = count(v["turn"], 1, from: 1)
        self.phase = phase
        outcome = v["outcome"]?.stringValue.flatMap(Outcome.init(rawValue:))
        appearedAtMillis = n("appearedAt")
        startedAtMillis = n("startedAt")
        finishedAtMillis = n("finishedAt")
        updatedAtMillis = n("updatedAt") ?? discovered
        nextAtMillis = n("nextAt") ?? discovered
        intent = v["intent"]?.stringValue
        if let f = v["finish"], let kind = f["kind"]?.stringValue.flatMap(Finish.Kind.init(rawValue:)) {
            finish = Finish(kind: kind, body: f["body"]?.stringValue ?? "")
        }
        if let b = v["backend"] {
            backend.step = count(b["step"], 0)
            // Not `flatMap { $0.isNull ? nil : $0 }`: JSONValue is nil-literal convertible, so that keeps `.null`.
            if let w = b["waitState"], !w.isNull { backend.waitState = w }
            backend.uncertain = b["uncertain"]?.boolValue ?? false
            backend.taskId = b["taskId"]?.stringValue
            backend.taskSlug = b["taskSlug"]?.stringValue
            backend.runId = b["runId"]?.stringValue
            backend.status = b["status"]?.stringValue
            backend.branch = b["branch"]?.stringValue
            backend.prURL = b["prURL"]?.stringValue
            backend.answer = b["answer"]?.stringValue
            backend.reported = (b["reported"]?.arrayValue ?? []).prefix(10).compactMap(\.stringValue)
            backend.inputTokens = b["inputTokens"]?.numberValue
            backend.outputTokens = b["outputTokens"]?.numberValue
        }
        comments = (v["comments"]?.arrayValue ?? []).compactMap(\.stringValue)
        summary = v["summary"]?.stringValue
        error = v["error"]?.stringValue
        costUsd = v["costUsd"]?.numberValue.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        earlierTurnsCostUsd = v["earlierTurnsCostUsd"]?.numberValue.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        pendingEvents = (v["pendingEvents"]?.arrayValue ?? []).compactMap(\.stringValue)
        failures = count(v["failures"], 0)
        lastError = v["lastError"]?.stringValue
        conflicts = count(v["conflicts"], 0)
    }
}
