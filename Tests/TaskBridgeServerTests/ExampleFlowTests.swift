import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTestSupport

/// Each shipped example rule set, end to end: a signed webhook in, and exactly the
/// expected requests — once — at a strict fake GroupChat.
@Suite struct ExampleFlowTests {
    /// Mutating calls the fake received and answered, in order, as "METHOD path body".
    func writes(_ fake: GroupChatFake) -> [String] {
        fake.requests.filter { $0.method != "GET" && $0.status != nil }.map { r in
            "\(r.method) \(r.path) \(r.body.map(JSONWriter.serialize) ?? "")"
        }
    }

    func settled(_ bridge: Bridge, jobs: Int) async throws -> Bool {
        try await eventually {
            let all = try await bridge.store.listJobs(JobFilter(limit: 1000))
            return all.count == jobs && all.allSatisfy { $0.state == "succeeded" || $0.state == "dead" }
        }
    }

    @Test func sentryIssuesBecomeOneTaskEachAndFollowTheIssue() async throws {
        let fake = GroupChatFake()
        try await withBridge(fake: fake, dispatcher: true) { bridge async throws in
            let created = Fixtures.bytes("sentry/issue.created.json")
            #expect(try await bridge.sentry(created, resource: "issue", requestID: "r1").status.code == 202)
            #expect(try await settled(bridge, jobs: 1))
            let task = try #require(fake.tasks.first)
            #expect(fake.tasks.count == 1)
            #expect(task["projectId"] == "proj_eng")
            #expect(task["stageId"] == "st_todo")
            #expect(task["title"] == "[Sentry] ReferenceError: blooopy is not defined")
            let description = try #require(task["description"]?.stringValue)
            #expect(description.hasPrefix("FRONT-END-9 in front-end (error)\nCulprit: ?(runner)\nFirst seen: 2019-08-19T20:58:37.391000Z\n\n<!-- taskbridge:tb_"))
            let post = try #require(fake.requests("POST", "/api/v1/tasks").first)
            #expect(post.headers["authorization"] == "Bearer \(GroupChatFake.workspaceKey)")
            #expect(post.headers["idempotency-key"]?.hasPrefix("tb_") == true)

            // The same issue again (a new delivery): still one task.
            #expect(try await bridge.sentry(created, resource: "issue", requestID: "r2").status.code == 202)
            #expect(try await settled(bridge, jobs: 2))
            #expect(fake.tasks.count == 1)

            // Derived: the same issue resolved, then regressed.
            let resolved = Fixtures.derived("sentry/issue.created.json", [("action", "resolved"), ("data.issue.status", "resolved")])
            #expect(try await bridge.sentry(resolved, resource: "issue", requestID: "r3").status.code == 202)
            #expect(try await settled(bridge, jobs: 3))
            #expect(fake.tasks.first?["completed"] == true)
            #expect(fake.tasks.first?["stageId"] == "st_done")
            let unresolved = Fixtures.derived("sentry/issue.created.json", [("action", "unresolved"), ("data.issue.status", "unresolved")])
            #expect(try await bridge.sentry(unresolved, resource: "issue", requestID: "r4").status.code == 202)
            #expect(try await settled(bridge, jobs: 4))
            #expect(fake.tasks.first?["completed"] == false)
            #expect(fake.tasks.first?["stageId"] == "st_todo")

            #expect(writes(fake) == [
                "POST /api/v1/tasks " + JSONWriter.serialize(fake.requests("POST", "/api/v1/tasks")[0].body!),
                #"PATCH /api/v1/tasks {"completed":true,"id":"task_1"}"#,
                #"PATCH /api/v1/tasks {"completed":false,"id":"task_1"}"#,
            ])
        }
    }

    @Test func fatalIssuesAreDelegatedToTheAgentByName() async throws {
        let fake = GroupChatFake()
        try await withBridge(fake: fake, dispatcher: true) { bridge async throws in
            let fatal = Fixtures.derived("sentry/issue.created.json", [("data.issue.level", "fatal"), ("data.issue.id", "424242")])
            #expect(try await bridge.sentry(fatal, resource: "issue", requestID: "f1").status.code == 202)
            #expect(try await settled(bridge, jobs: 2))
            let delegate = fake.requests("POST", "/api/v1/agents/delegate")
            #expect(delegate.count == 1)
            #expect(delegate.first?.body?["agentUserId"] == "agent-triage01")
            #expect(delegate.first?.body?["taskId"] == "task_1")
            #expect(delegate.first?.body?["prompt"] == "Investigate the fatal Sentry issue FRONT-END-9: ReferenceError: blooopy is not defined")
            #expect(fake.workspace.runCount == 1)
            #expect(try await bridge.store.listJobs(JobFilter(state: "succeeded")).count == 2)
        }
    }

    @Test func anAlertReopensTheIssuesTask() async throws {
        let fake = GroupChatFake()
        try await withBridge(fake: fake, dispatcher: true) { bridge async throws in
            let alert = Fixtures.bytes("sentry/event_alert.triggered.json")
            #expect(try await bridge.sentry(alert, resource: "event_alert", requestID: "a1").status.code == 202)
            #expect(try await settled(bridge, jobs: 1))
            #expect(fake.tasks.count == 1)
            #expect(fake.tasks.first?["title"] == "[Sentry] ReferenceError: heck is not defined")
            // Done by hand, then the alert fires again: reopened, not duplicated.
            fake.mutate { _ = try? $0.updateTask(["id": "task_1", "completed": true]) }
            #expect(try await bridge.sentry(alert, resource: "event_alert", requestID: "a2").status.code == 202)
            #expect(try await settled(bridge, jobs: 2))
            #expect(fake.tasks.count == 1)
            #expect(fake.tasks.first?["completed"] == false)
        }
    }

    @Test func pullRequestsMoveTheirTaskAcrossTheBoard() async throws {
        let fake = GroupChatFake()
        fake.mutate { _ = try? $0.createTask(["projectId": "proj_eng", "title": "Update the README"], creator: "api") }
        try await withBridge(fake: fake, dispatcher: true) { bridge async throws in
            let branch = ("pull_request.head.ref", JSONValue.string("gc-task_1/readme"))
            // Derived: opened as a draft from a branch naming the task.
            let draft = Fixtures.derived("github/pull_request.opened.json", [("pull_request.draft", true), branch])
            #expect(try await bridge.github(draft, event: "pull_request", delivery: "g1").status.code == 202)
            #expect(try await settled(bridge, jobs: 1))
            #expect(fake.tasks.first?["stageId"] == "st_doing")

            let ready = Fixtures.derived("github/pull_request.ready_for_review.json", [branch])
            #expect(try await bridge.github(ready, event: "pull_request", delivery: "g2").status.code == 202)
            #expect(try await settled(bridge, jobs: 2))
            #expect(fake.tasks.first?["stageId"] == "st_review")

            let merged = Fixtures.derived("github/pull_request.closed.json", [("pull_request.merged", true), branch])
            #expect(try await bridge.github(merged, event: "pull_request", delivery: "g3").status.code == 202)
            #expect(try await settled(bridge, jobs: 3))
            #expect(fake.tasks.first?["completed"] == true)
            #expect(fake.tasks.first?["stageId"] == "st_done")
            #expect(writes(fake) == [
                #"PATCH /api/v1/tasks {"id":"task_1"}"#,
                #"PATCH /api/v1/tasks {"id":"task_1","stageId":"st_doing"}"#,
                #"PATCH /api/v1/tasks {"id":"task_1","stageId":"st_review"}"#,
                #"PATCH /api/v1/tasks {"completed":true,"id":"task_1"}"#,
            ])
            #expect(try await bridge.store.link(target: "groupchat", key: "github-pr:Codertocat/Hello-World#2")?.taskId == "task_1")
        }
    }

    @Test func aClosedUnmergedPullRequestSendsTheTaskBackByABodyReference() async throws {
        let fake = GroupChatFake()
        fake.mutate { w in
            _ = try? w.createTask(["projectId": "proj_eng", "title": "A"], creator: "api")
            _ = try? w.updateTask(["id": "task_1", "stageId": "st_review"])
        }
        try await withBridge(fake: fake, dispatcher: true) { bridge async throws in
            let closed = Fixtures.derived("github/pull_request.closed.json", [("pull_request.body", "Fixes GC-task_1 by rewording.")])
            #expect(try await bridge.github(closed, event: "pull_request", delivery: "c1").status.code == 202)
            #expect(try await settled(bridge, jobs: 1))
            #expect(fake.tasks.first?["stageId"] == "st_todo")
            // The unmodified fixture names no task: stored, but no rule matches.
            let plain = try await bridge.github(Fixtures.bytes("github/pull_request.closed.json"), event: "pull_request", delivery: "c2")
            #expect(try await bridge.store.eventDetail(id: plain.json["event"]?.stringValue ?? "")?.event.status == "unmatched")
        }
    }

    @Test func widgetFeedbackLandsInTriage() async throws {
        let fake = GroupChatFake()
        try await withBridge(fake: fake, dispatcher: true) { bridge async throws in
            let body = #"{"message":"The checkout button does nothing on Safari","name":"Ada","email":"ada@example.com","page":"https://www.example.com/cart"}"#
            let r = try await bridge.post("/hooks/widget", [("Content-Type", "application/json"), ("Origin", "https://www.example.com")], Array(body.utf8))
            #expect(r.status.code == 202)
            #expect(try await settled(bridge, jobs: 1))
            let task = try #require(fake.tasks.first)
            #expect(task["projectId"] == "proj_web")
            #expect(task["stageId"] == "st_web_triage")
            #expect(task["title"] == "Feedback: The checkout button does nothing on Safari")
            #expect(task["description"]?.stringValue?.hasPrefix(
                "The checkout button does nothing on Safari\n\nPage: https://www.example.com/cart\nFrom: Ada <ada@example.com>\n\n<!-- taskbridge:") == true)
        }
    }

    @Test func personalTokensSendTheWorkspaceHeader() async throws {
        let fake = GroupChatFake()
        var env = TestEnv.values
        env["TEST_GC_TOKEN"] = GroupChatFake.personalToken
        env["TEST_GC_WS"] = "ws_1"
        let config = testConfig(target: #", "workspaceId": {"env": "TEST_GC_WS"}"#)
        try await withBridge(config: config, env: env, fake: fake, dispatcher: true) { bridge async throws in
            _ = try await bridge.sentry(Fixtures.bytes("sentry/issue.created.json"), resource: "issue", requestID: "p1")
            #expect(try await settled(bridge, jobs: 1))
            #expect(fake.tasks.count == 1)
            #expect(fake.requests.allSatisfy { $0.headers["x-workspace-id"] == "ws_1" })
        }
    }

    @Test func aPersonalTokenWithoutWorkspaceSendsNothingAndKeepsTheJob() async throws {
        let fake = GroupChatFake()
        var env = TestEnv.values
        env["TEST_GC_TOKEN"] = GroupChatFake.personalToken
        try await withBridge(env: env, fake: fake, dispatcher: true) { bridge async throws in
            _ = try await bridge.sentry(Fixtures.bytes("sentry/issue.created.json"), resource: "issue", requestID: "p1")
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(fake.requests.isEmpty)
            #expect(try await bridge.store.listJobs(JobFilter()).map(\.state) == ["pending"])
        }
    }
}
