import Testing
@testable import TaskBridgeCore
import TaskBridgeTargets

/// Agent-run events: their body, their dedupe keys, how rules match them, and the
/// `agent` source kind's adapter.
@Suite("AgentEvents")
struct AgentEventsTests {
    /// A PostHog run that completed with a pull request.
    static func completed(turn: Int = 1) -> AgentRunRecord {
        var r = AgentRunRecord(runId: "run-1", agent: "coder", taskId: "task-1", prompt: "Fix the login bug", backendTarget: "ph",
                               backendKind: "posthog", discoveredAtMillis: 1_000)
        r.turn = turn
        r.taskTitle = "Login broken"
        r.projectId = "proj-1"
        r.workspaceId = "ws-1"
        r.phase = .done
        r.outcome = .completed
        r.appearedAtMillis = 900
        r.startedAtMillis = 2_000
        r.finishedAtMillis = 60_000
        r.backend.taskId = "ph-task-9"
        r.backend.runId = "ph-run-1"
        r.backend.status = "completed"
        r.backend.branch = "fix/login"
        r.backend.prURL = "https://github.com/acme/api/pull/17"
        r.costUsd = 1.5
        r.summary = "completed"
        return r
    }

    @Test func aCompletedPostHogRunsBodyCarriesThePRTheCostAndTheBackendsWork() {
        let body = AgentEvents.body(type: AgentEvents.completed, record: Self.completed())
        let expected: JSONValue = [
            "type": "agent.run.completed", "agent": "coder",
            "run": ["id": "run-1", "turn": 1, "phase": "done", "prompt": "Fix the login bug", "appearedAt": 900, "startedAt": 2_000,
                    "finishedAt": 60_000, "outcome": "completed"],
            "task": ["id": "task-1", "title": "Login broken", "projectId": "proj-1", "workspaceId": "ws-1"],
            "backend": ["target": "ph", "kind": "posthog", "taskId": "ph-task-9", "runId": "ph-run-1", "status": "completed", "branch": "fix/login"],
            "pr_url": "https://github.com/acme/api/pull/17", "cost_usd": 1.5, "summary": "completed", "error": nil,
        ]
        #expect(body == expected)
    }

    @Test func whatIsNotKnownIsNull() {
        let r = AgentRunRecord(runId: "run-2", agent: "helper", taskId: "task-2", prompt: "", backendTarget: "zy", backendKind: "zylon",
                               discoveredAtMillis: 5)
        let body = AgentEvents.body(type: AgentEvents.started, record: r)
        #expect(body["pr_url"] == .null)
        #expect(body["cost_usd"] == .null)
        #expect(body["run"]?["outcome"] == .null)
        #expect(body["run"]?["startedAt"] == .null)
        #expect(body["task"]?["title"] == .null)
        #expect(body["backend"] == ["target": "zy", "kind": "zylon", "taskId": nil, "runId": nil, "status": nil, "branch": nil])
    }

    @Test func theDedupeKeyNamesTheRunTheTurnAndTheType() {
        #expect(AgentEvents.types == ["agent.run.started", "agent.run.completed", "agent.run.failed"])
        #expect(AgentEvents.dedupeKey(runId: "run-1", type: AgentEvents.completed) == "run-1:agent.run.completed")
        #expect(AgentEvents.dedupeKey(runId: "run-1", turn: 1, type: AgentEvents.started) == "run-1:agent.run.started")
        #expect(AgentEvents.dedupeKey(runId: "run-1", turn: 2, type: AgentEvents.started) == "run-1#2:agent.run.started")
        #expect(AgentEvents.dedupeKey(runId: "run-1", turn: 2, type: AgentEvents.started)
            != AgentEvents.dedupeKey(runId: "run-1", turn: 1, type: AgentEvents.started))
    }

    // MARK: Rules

    static let config = #"""
    {"sources": {"github": {"kind": "github", "secrets": [{"env": "S"}]}},
     "targets": {"gc": {"kind": "groupchat", "token": {"env": "GC"}}, "ph": {"kind": "posthog", "token": {"env": "PH"}, "projectId": 1}},
     "agents": {"coder": {"token": {"env": "GCA"}, "backend": {"target": "ph", "repository": "acme/api"}}}}
    """#

    static let rules = #"""
    {"rules": [
      {"id": "pr-review", "sources": "agent", "events": "agent.run.completed", "target": "gc",
       "when": {"path": "body.pr_url", "matches": "^https://github\\.com/(?<repo>[^/]+/[^/]+)/pull/(?<number>\\d+)$"},
       "orderingKey": "{{ body.task.id }}",
       "do": [{"action": "task.create", "title": "Review {{ captures.repo }}#{{ captures.number }}"}]},
      {"id": "any-agent-event", "sources": ["agent"], "events": ["agent.run.*"], "target": "gc",
       "do": [{"action": "task.create", "title": "{{ event.type }}"}]},
      {"id": "failures", "sources": "agent", "events": "agent.run.failed", "target": "gc",
       "do": [{"action": "task.create", "title": "{{ body.error }}"}]},
      {"id": "github", "sources": "github", "events": "agent.run.completed", "target": "gc",
       "do": [{"action": "task.create", "title": "never"}]}
    ]}
    """#

    static func ruleSet() throws -> RuleSet {
        let c = try ConfigParser.parse(Array(config.utf8), file: "c.json", kinds: TargetKinds.all)
        return try RuleParser(config: c).parse([.init(path: "r.json", bytes: Array(rules.utf8))])
    }

    @Test func aCompletedRunWithAPRIsPlannedForTheRulesOnTheAgentSource() throws {
        let set = try Self.ruleSet()
        let plan = AgentEvents.plan(type: AgentEvents.completed, record: Self.completed(turn: 2), rules: set, eventId: "ev-1", nowMillis: 70_000)
        #expect(plan.id == "ev-1")
        #expect(plan.source == "agent")
        #expect(plan.type == "agent.run.completed")
        #expect(plan.dedupeKey == "run-1#2:agent.run.completed")
        #expect(plan.receivedAtMillis == 70_000)
        #expect(plan.contentType == "application/json")
        #expect(plan.headers == [:])
        #expect(plan.status == .planned)
        #expect(plan.jobs.map(\.ruleId) == ["pr-review", "any-agent-event"])
        let review = try #require(plan.jobs.first)
        #expect(review.target == "gc")
        #expect(review.captures == ["repo": "acme/api", "number": "17"])
        #expect(review.orderingKey == "task-1")
        let stored = try JSONParser.parse(plan.body)
        #expect(stored == AgentEvents.body(type: AgentEvents.completed, record: Self.completed(turn: 2)))
    }

    @Test func withoutAPROnlyTheCatchAllRuleMatches() throws {
        let set = try Self.ruleSet()
        var r = Self.completed()
        r.backend.prURL = nil
        let plan = AgentEvents.plan(type: AgentEvents.completed, record: r, rules: set, eventId: "ev-2", nowMillis: 1)
        #expect(plan.jobs.map(\.ruleId) == ["any-agent-event"])
        #expect(plan.status == .planned)
        r.outcome = .failed
        r.error = "PostHog run failed"
        let failed = AgentEvents.plan(type: AgentEvents.failed, record: r, rules: set, eventId: "ev-3", nowMillis: 1)
        #expect(failed.jobs.map(\.ruleId) == ["any-agent-event", "failures"])
    }

    @Test func anEventNoRuleListensToIsStoredUnmatched() throws {
        let c = try ConfigParser.parse(Array(Self.config.utf8), file: "c.json", kinds: TargetKinds.all)
        let set = try RuleParser(config: c).parse([.init(path: "r.json", bytes: Array(
            #"{"rules": [{"id": "gh", "sources": "github", "events": "push", "target": "gc", "do": [{"action": "task.create", "title": "t"}]}]}"#.utf8))])
        let plan = AgentEvents.plan(type: AgentEvents.started, record: Self.completed(), rules: set, eventId: "ev-4", nowMillis: 1)
        #expect(plan.status == .unmatched)
        #expect(plan.jobs.isEmpty)
        #expect(plan.dedupeKey == "run-1:agent.run.started")
    }

    // MARK: Adapter

    @Test func theAdapterNamesTheTypeAndDedupeKeyOfAStoredEvent() throws {
        let adapter = AgentEventAdapter()
        #expect(adapter.kind == .agent)
        #expect(adapter.keptHeaders == [])
        #expect(adapter.payloadPaths.isEmpty)
        #expect(adapter.checkContentType(HeaderFields()) == nil)
        let body = AgentEvents.body(type: AgentEvents.completed, record: Self.completed(turn: 3))
        #expect(try adapter.identity(HeaderFields(), payload: body) == EventIdentity(type: "agent.run.completed", dedupeKey: "run-1#3:agent.run.completed"))
        let first = AgentEvents.body(type: AgentEvents.started, record: Self.completed())
        #expect(try adapter.identity(HeaderFields(), payload: first) == EventIdentity(type: "agent.run.started", dedupeKey: "run-1:agent.run.started"))
        let bytes = Array(#"{"type": "agent.run.failed"}"#.utf8)
        #expect(try adapter.payloadDocument(HeaderFields(), body: bytes) == bytes)
    }

    @Test func theAdapterRefusesWhatIsNotAnAgentRunEvent() {
        let adapter = AgentEventAdapter()
        let message = "an agent-run event needs a type (agent.run.started, agent.run.completed, agent.run.failed) and run.id"
        let payloads: [JSONValue] = [
            [:], ["type": "agent.run.completed"], ["type": "push", "run": ["id": "run-1"]], ["type": "agent.run.completed", "run": ["id": ""]],
            ["type": "agent.run.completed", "run": ["id": 7]], "agent.run.completed",
        ]
        for p in payloads {
            #expect(throws: IngressError.badRequest(message), "\(p)") { try adapter.identity(HeaderFields(), payload: p) }
        }
    }

    @Test func agentEventsAreNeverReceivedOverHTTP() {
        let refusal = AgentEventAdapter().verify(HeaderFields([("content-type", "application/json")]), body: Array("{}".utf8), secrets: [])
        #expect(refusal == .notFound("agent-run events are made by TaskBridge, not received over HTTP"))
        #expect(refusal?.status == 404)
    }
}
