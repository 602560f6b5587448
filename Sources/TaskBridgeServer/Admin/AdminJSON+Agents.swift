import TaskBridgeCore
import TaskBridgeStore

/// Agents and agent runs as the admin API (and `taskbridge agents` / `runs`) show them.
extension AdminJSON {
    /// A run's state: its phase, or how it ended once done.
    public static func state(_ r: AgentRunRecord) -> String { r.phase == .done ? (r.outcome?.rawValue ?? "done") : r.phase.rawValue }

    /// Values `?state=` accepts.
    public static let agentRunStates = ["queued", "starting", "working", "finishing", "done", "completed", "failed", "stopped"]

    public static func agentRun(_ r: AgentRunRecord) -> JSONValue {
        func t(_ v: Int64?) -> JSONValue { v.map(time) ?? .null }
        func s(_ v: String?) -> JSONValue { v.map(JSONValue.string) ?? .null }
        let b = r.backend
        return [
            "id": .string(r.runId), "agent": .string(r.agent), "state": .string(state(r)), "turn": .number(Double(r.turn)),
            "task": ["id": .string(r.taskId), "title": s(r.taskTitle)],
            "appearedAt": t(r.appearedAtMillis), "discoveredAt": t(r.discoveredAtMillis), "startedAt": t(r.startedAtMillis),
            "finishedAt": t(r.finishedAtMillis), "updatedAt": t(r.updatedAtMillis),
            "pickupSeconds": r.startedAtMillis.map { .number(Double($0 - (r.appearedAtMillis ?? r.discoveredAtMillis)) / 1000) } ?? .null,
            "backend": ["target": .string(r.backendTarget), "kind": .string(r.backendKind), "step": .number(Double(b.step)),
                        "taskId": s(b.taskId), "taskSlug": s(b.taskSlug), "runId": s(b.runId), "status": s(b.status),
                        "branch": s(b.branch), "prUrl": s(b.prURL), "uncertain": .bool(b.uncertain)],
            "comments": .array(r.comments.map(JSONValue.string)), "costUsd": r.costUsd.map(JSONValue.number) ?? .null,
            "summary": s(r.summary), "error": s(r.error), "lastError": s(r.lastError), "pendingIntent": s(r.intent),
        ]
    }

    public static func agentCall(_ c: AgentCallRecord) -> JSONValue {
        ["at": time(c.atMillis), "api": .string(c.api), "request": .string(c.request), "status": c.status.map { .number(Double($0)) } ?? .null,
         "latencyMs": .number((c.latencyMillis * 10).rounded() / 10), "response": c.response.map { .string(String($0.prefix(500))) } ?? .null]
    }

    public static func agentRunDetail(_ r: AgentRunRecord, calls: [AgentCallRecord]) -> JSONValue {
        guard case .object(var o) = agentRun(r) else { return .null }
        o["prompt"] = .string(r.prompt)
        o["calls"] = .array(calls.map(agentCall))
        return .object(o)
    }

    /// A configured agent: its backend, limits, runs by state and, from a running
    /// service, its GroupChat identity and health.
    public static func agent(_ a: AgentConfig, status: AgentStatusBoard.Status?, counts: [AgentRunCount]) -> JSONValue {
        var runs: [String: JSONValue] = [:]
        for c in counts where c.agent == a.name {
            let key = c.phase == "done" ? (c.outcome ?? "done") : c.phase
            runs[key] = .number((runs[key]?.numberValue ?? 0) + Double(c.count))
        }
        var o: [String: JSONValue] = [
            "name": .string(a.name),
            "backend": ["target": .string(a.backend.target), "kind": .string(a.backend.kind.rawValue),
                        "repository": a.backend.repository.map(JSONValue.string) ?? .null, "project": a.backend.project.map(JSONValue.string) ?? .null],
            "concurrency": .number(Double(a.concurrency)), "maxRunMinutes": .number(a.maxRunMinutes), "pollSeconds": .number(a.pollSeconds),
            "maxCostUsdPerDay": a.maxCostUsdPerDay.map(JSONValue.number) ?? .null, "runs": .object(runs),
        ]
        if let status {
            var identity: JSONValue = .null
            if let me = status.identity {
                identity = ["name": me["name"] ?? .null, "agentUserId": me["agentUserId"] ?? .null,
                            "ownerId": me["ownerId"] ?? .null, "ownerName": me["ownerName"] ?? .null]
            }
            o["identity"] = identity
            o["problem"] = status.problem.map(JSONValue.string) ?? .null
            o["lastPollAt"] = status.lastPollMillis.map(time) ?? .null
            o["pollFailures"] = .number(Double(status.pollFailures))
            o["activeRuns"] = .number(Double(status.activeRuns))
        }
        return .object(o)
    }
}
