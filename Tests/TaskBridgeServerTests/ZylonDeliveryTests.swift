import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTestSupport

/// `zylon.chat` through the dispatcher: a widget message is summarised by Zylon (the
/// job waits, durably, while the interaction is Processing) and a later GroupChat step
/// writes the answer into a task. The strict fakes play both upstreams.
@Suite struct ZylonDeliveryTests {
    static let env = TestEnv.values.merging(["TEST_ZYLON_TOKEN": ZylonFake.token]) { $1 }

    /// Widget and Sentry sources, the GroupChat fake at {{FAKE}}, the Zylon fake at
    /// `zylon`, and the rule files under `rules/`.
    static func config(zylon: String) -> String {
        """
        {
          "sources": {
            "sentry": {"kind": "sentry", "secrets": [{"env": "TEST_SENTRY_SECRET"}]},
            "widget": {"kind": "widget", "allowedOrigins": ["https://www.example.com"]}
          },
          "targets": {
            "groupchat": {"kind": "groupchat", "baseURL": "{{FAKE}}", "token": {"env": "TEST_GC_TOKEN"},
                          "retry": {"initialDelaySeconds": 0.02, "maxDelaySeconds": 0.2}},
            "zylon": {"kind": "zylon", "baseURL": "\(zylon)", "token": {"env": "TEST_ZYLON_TOKEN"}, "org": "default",
                      "project": "proj_feedback", "timeoutSeconds": 5,
                      "retry": {"initialDelaySeconds": 0.02, "maxDelaySeconds": 0.2}}
          },
          "delivery": {"pollIntervalSeconds": 0.1, "shutdownGraceSeconds": 2},
          "rules": ["rules/*.json"]
        }
        """
    }

    static let summaryRule = #"""
    {"rules": [{
      "id": "feedback-summary", "sources": ["widget"], "events": ["widget.submitted"], "target": "zylon",
      "do": [
        {"id": "summary", "action": "zylon.chat", "message": "Summarise: {{ body.message }}", "system": "One line.",
         "maxTokens": 120, "allArtifacts": false, "maxMinutes": 2},
        {"action": "task.create", "target": "groupchat", "project": "Website", "stage": "Triage",
         "title": "Feedback: {{ body.message | truncate 60 }}", "description": "{{ steps.summary.text }}"}
      ]
    }]}
    """#

    func withZylon(_ body: @Sendable (Bridge, ZylonFake, GroupChatFake) async throws -> Void) async throws {
        let zylon = ZylonFake()
        try await zylon.start()
        let groupchat = GroupChatFake()
        do {
            try await withBridge(config: Self.config(zylon: zylon.baseURL), ruleFiles: ["zylon.json": Self.summaryRule], env: Self.env,
                                 fake: groupchat, dispatcher: true) { bridge in
                try await body(bridge, zylon, groupchat)
            }
        } catch {
            await zylon.stop()
            throw error
        }
        await zylon.stop()
    }

    func submit(_ bridge: Bridge, _ message: String) async throws -> Int {
        let body = #"{"message":"\#(message)"}"#
        return Int(try await bridge.post("/hooks/widget", [("Content-Type", "application/json"), ("Origin", "https://www.example.com")],
                                         Array(body.utf8)).status.code)
    }

    func job(_ bridge: Bridge) async throws -> JobSummary? {
        try await bridge.store.listJobs(JobFilter(limit: 10)).first
    }

    @Test func theJobWaitsForTheAnswerAndALaterStepWritesItIntoATask() async throws {
        try await withZylon { bridge, zylon, groupchat in
            zylon.script(.answer("Safari users cannot check out. Category: bug", after: 1))
            #expect(try await submit(bridge, "The checkout button does nothing on Safari") == 202)

            // The chat went out once; the job waits (no worker held) while Zylon works.
            #expect(try await eventually { try await job(bridge)?.state == "waiting" })
            #expect(zylon.requests("POST", "/api/v1/app/project/proj_feedback/chat").count == 1)
            #expect(groupchat.tasks.isEmpty)

            #expect(try await eventually(30) { try await job(bridge)?.state == "succeeded" })
            let task = try #require(groupchat.tasks.first)
            #expect(groupchat.tasks.count == 1)
            #expect(task["projectId"] == "proj_web")
            #expect(task["description"]?.stringValue?.hasPrefix("Safari users cannot check out. Category: bug\n\n<!-- taskbridge:") == true)

            let chat = try #require(zylon.requests("POST", "/api/v1/app/project/proj_feedback/chat").first)
            #expect(chat.headers["x-org"] == "default")
            #expect(chat.body?["pgpt"]?["messages"]?.arrayValue?.first?["content"]?.arrayValue?.first?["text"] == "Summarise: The checkout button does nothing on Safari")
            #expect(chat.body?["all_artifacts"] == false)
            #expect(chat.body?["pgpt"]?["max_tokens"] == 120)
            #expect(zylon.requests("POST", "/api/v1/app/project/proj_feedback/chat").count == 1)
            #expect(zylon.requests("GET", "/api/v1/app/interaction/inter_1").count == 2)

            // The job keeps the answer for the admin view; the attempts show the waits.
            let summary = try #require(try await job(bridge))
            let outputs = try JSONParser.parse(Array(summary.outputs.utf8))
            #expect(outputs["summary"]?["text"] == "Safari users cannot check out. Category: bug")
            #expect(outputs["summary"]?["state"] == "Completed")
            let detail = try #require(try await bridge.store.eventDetail(id: summary.eventId))
            #expect(detail.attempts[summary.id]?.map(\.outcome) == ["waiting", "waiting", "ok", "ok"])
        }
    }

    @Test func aChatWhoseAnswerWasLostIsNotSentAgain() async throws {
        try await withZylon { bridge, zylon, groupchat in
            zylon.setChaos(FakeChaos(acceptedThenReset: 1, only: ["POST /api/v1/app/project/{id}/chat"]))
            #expect(try await submit(bridge, "Lost answer") == 202)
            #expect(try await eventually { try await job(bridge)?.state == "dead" })
            let dead = try #require(try await job(bridge))
            #expect(dead.lastError?.contains("the chat may have run, so it is not sent again") == true)
            #expect(zylon.interactions.count == 1)
            #expect(zylon.requests("POST", "/api/v1/app/project/proj_feedback/chat").count == 1)
            #expect(groupchat.tasks.isEmpty)
            let detail = try #require(try await bridge.store.eventDetail(id: dead.eventId))
            let attempt = try #require(detail.attempts[dead.id]?.last)
            #expect(attempt.outcome == "failed")
            #expect(attempt.request?.hasPrefix("POST /api/v1/app/project/proj_feedback/chat") == true)
            #expect(attempt.error?.contains("may have run") == true)

            // As the reason says, retrying the job sends the chat anyway.
            zylon.setChaos(.none)
            zylon.script(.answer("Sent again on purpose", after: 0))
            #expect(try await bridge.store.retryJob(id: dead.id, nowMillis: WallClock.nowMillis()))
            #expect(try await eventually { try await job(bridge)?.state == "succeeded" })
            #expect(zylon.interactions.count == 2)
            #expect(groupchat.tasks.first?["description"]?.stringValue?.hasPrefix("Sent again on purpose") == true)
        }
    }

    @Test func notAMemberDeadLettersTheJobWithoutPausingTheTarget() async throws {
        try await withZylon { bridge, zylon, groupchat in
            zylon.mutate { org in
                org.projects = org.projects.map { p in
                    var p = p
                    if p.id == "proj_feedback" { p.members = [] }
                    return p
                }
            }
            #expect(try await submit(bridge, "Nobody may read this") == 202)
            #expect(try await eventually { try await job(bridge)?.state == "dead" })
            let dead = try #require(try await job(bridge))
            #expect(dead.lastError?.contains("answered 403: Not a project member") == true)
            #expect(groupchat.tasks.isEmpty)
            #expect(!(try await bridge.get("/metrics").text.contains(#"taskbridge_target_auth_failures_total{target="zylon"}"#)))

            // The target was not paused: with the membership back, the next job goes through.
            zylon.mutate { org in org.projects = ZylonOrg.standard().projects }
            zylon.script(.answer("Readable now", after: 0))
            #expect(try await submit(bridge, "Readable") == 202)
            #expect(try await eventually {
                try await bridge.store.listJobs(JobFilter(state: "succeeded")).count == 1
            })
            #expect(groupchat.tasks.first?["description"]?.stringValue?.hasPrefix("Readable now") == true)
        }
    }
}
