/// Agent-run transitions as events rules match like webhooks: source `agent`, types
/// ``types``. Each is stored once per run and type (the dedupe key), so an event emitted
/// again after a crash is a duplicate, not a second event.
public enum AgentEvents {
    public static let source = "agent"
    public static let started = "agent.run.started"
    public static let completed = "agent.run.completed"
    public static let failed = "agent.run.failed"
    public static let types = [started, completed, failed]

    /// One per run, turn and type.
    public static func dedupeKey(runId: String, turn: Int = 1, type: String) -> String {
        (turn > 1 ? runId + "#" + String(turn) : runId) + ":" + type
    }

    /// The event's body: the run, its task, the backend's work, the PR and the cost.
    public static func body(type: String, record r: AgentRunRecord) -> JSONValue {
        var run: [String: JSONValue] = [
            "id": .string(r.runId), "turn": .number(Double(r.turn)), "phase": .string(r.phase.rawValue), "prompt": .string(r.prompt),
            "appearedAt": r.appearedAtMillis.map { .number(Double($0)) } ?? .null,
            "startedAt": r.startedAtMillis.map { .number(Double($0)) } ?? .null,
            "finishedAt": r.finishedAtMillis.map { .number(Double($0)) } ?? .null,
        ]
        run["outcome"] = r.outcome.map { .string($0.rawValue) } ?? .null
        let backend: JSONValue = [
            "target": .string(r.backendTarget), "kind": .string(r.backendKind),
            "taskId": r.backend.taskId.map(JSONValue.string) ?? .null, "runId": r.backend.runId.map(JSONValue.string) ?? .null,
            "status": r.backend.status.map(JSONValue.string) ?? .null, "branch": r.backend.branch.map(JSONValue.string) ?? .null,
        ]
        return [
            "type": .string(type), "agent": .string(r.agent), "run": .object(run),
            "task": ["id": .string(r.taskId), "title": r.taskTitle.map(JSONValue.string) ?? .null,
                     "projectId": r.projectId.map(JSONValue.string) ?? .null, "workspaceId": r.workspaceId.map(JSONValue.string) ?? .null],
            "backend": backend,
            "pr_url": r.backend.prURL.map(JSONValue.string) ?? .null,
            "cost_usd": r.costUsd.map(JSONValue.number) ?? .null,
            "summary": r.summary.map(JSONValue.string) ?? .null,
            "error": r.error.map(JSONValue.string) ?? .null,
        ]
    }

    /// The event and the jobs the current rules plan for it, ready to be ingested.
    public static func plan(type: String, record: AgentRunRecord, rules: RuleSet, eventId: String, nowMillis: Int64) -> PlannedEvent {
        let body = body(type: type, record: record)
        let key = dedupeKey(runId: record.runId, turn: record.turn, type: type)
        let context = EventContext(id: eventId, type: type, source: source, receivedAtMillis: nowMillis, dedupeKey: key,
                                   body: body, headers: [:], clientIP: nil)
        let matches = rules.match(source: source, type: type, context: context)
        return PlannedEvent(id: eventId, source: source, type: type, dedupeKey: key, receivedAtMillis: nowMillis, clientIP: "",
                            headers: [:], contentType: "application/json", body: JSONWriter.serializeBytes(body),
                            status: matches.isEmpty ? .unmatched : .planned, jobs: matches.map { PlannedJob(match: $0) })
    }
}

/// The `agent` source kind's adapter. Agent-run events are made inside TaskBridge, so
/// nothing is verified over HTTP (ingress answers 404 for this source); the adapter
/// names the type and dedupe key of a stored event when a job or a replay reads it.
public struct AgentEventAdapter: WebhookAdapter {
    public init() {}
    public var kind: SourceKind { .agent }
    public var payloadPaths: [FieldPath] { [] }
    public var keptHeaders: [String] { [] }

    public func checkContentType(_ headers: HeaderFields) -> IngressError? { nil }

    public func verify(_ headers: HeaderFields, body: [UInt8], secrets: [Secret]) -> IngressError? {
        .notFound("agent-run events are made by TaskBridge, not received over HTTP")
    }

    public func payloadDocument(_ headers: HeaderFields, body: [UInt8]) throws(IngressError) -> [UInt8] { body }

    public func identity(_ headers: HeaderFields, payload: JSONValue) throws(IngressError) -> EventIdentity {
        guard let type = payload["type"]?.stringValue, AgentEvents.types.contains(type),
              let run = payload["run"]?["id"]?.stringValue, !run.isEmpty else {
            throw .badRequest("an agent-run event needs a type (\(AgentEvents.types.joined(separator: ", "))) and run.id")
        }
        let turn = (payload["run"]?["turn"]?.numberValue ?? 1).clampedToInt
        return EventIdentity(type: type, dedupeKey: AgentEvents.dedupeKey(runId: run, turn: turn, type: type))
    }
}
