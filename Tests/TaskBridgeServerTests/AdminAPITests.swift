import Foundation
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeStore
import TaskBridgeTestSupport

@Suite struct AdminAPITests {
    let auth = [("Authorization", "Bearer \(TestEnv.adminToken)")]

    @Test func isOffWithoutATokenAndChecksTheToken() async throws {
        var env = TestEnv.values
        env["TEST_ADMIN_TOKEN"] = nil
        try await withBridge(env: env) { bridge async throws in
            let r = try await bridge.get("/admin/api/events", auth)
            #expect(r.status.code == 404)
            #expect(r.json["error"] == "the admin API is disabled; set TASKBRIDGE_ADMIN_TOKEN (admin.token) to enable it")
        }
        try await withBridge { bridge async throws in
            #expect(try await bridge.get("/admin/api/events").status.code == 401)
            let wrong = try await bridge.get("/admin/api/events", [("Authorization", "Bearer admin-test-tokeN")])
            #expect(wrong.status.code == 401)
            #expect(!wrong.text.contains(TestEnv.adminToken))
            #expect(try await bridge.get("/admin/api/events", auth).status.code == 200)
        }
    }

    @Test func listsAndShowsEventsWithJobsAndAttempts() async throws {
        let fake = GroupChatFake()
        try await withBridge(fake: fake, dispatcher: true) { bridge async throws in
            let created = try await bridge.sentry(Fixtures.bytes("sentry/issue.created.json"), resource: "issue", requestID: "a1")
            _ = try await bridge.github(Fixtures.bytes("github/push.json"), event: "push", delivery: "p1")
            let id = try #require(created.json["event"]?.stringValue)
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "succeeded")).count == 1 })
            let list = try await bridge.get("/admin/api/events?source=sentry", auth)
            #expect(list.json["events"]?.arrayValue?.map { $0["id"] } == [.string(id)])
            let unmatched = try await bridge.get("/admin/api/events?status=unmatched", auth)
            #expect(unmatched.json["events"]?.arrayValue?.map { $0["type"] } == ["push"])
            let detail = try await bridge.get("/admin/api/events/\(id)", auth)
            #expect(detail.json["type"] == "issue.created")
            #expect(detail.json["payload"]?["data"]?["issue"]?["id"] == "1170820242")
            #expect(detail.json["matchedRules"] == ["sentry-issue-task"])
            let job = try #require(detail.json["jobs"]?.arrayValue?.first)
            #expect(job["state"] == "succeeded")
            let attempt = try #require(job["attempts"]?.arrayValue?.first)
            #expect(attempt["status"] == 200)
            #expect(attempt["outcome"] == "ok")
            #expect(attempt["request"]?.stringValue?.contains("POST /api/v1/tasks {") == true)
            #expect(!detail.text.contains(GroupChatFake.workspaceKey), "the admin API never shows a token")
            let badTime = try await bridge.get("/admin/api/jobs?since=yesterday", auth)
            #expect(badTime.status.code == 400)
            #expect(try await bridge.get("/admin/api/events/evt_nope", auth).status.code == 404)
        }
    }

    /// A step that names a project GroupChat does not have is a dead letter with the
    /// reason; once the project exists, a retry delivers it.
    @Test func deadLettersCanBeRetriedOneByOneOrInBulk() async throws {
        let fake = GroupChatFake()
        fake.mutate { $0.projects.removeAll { $0["name"] == "Website" } }
        try await withBridge(fake: fake, dispatcher: true) { bridge async throws in
            for i in 0..<3 {
                _ = try await bridge.post("/hooks/widget", [("Content-Type", "application/json")], Array(#"{"message":"m\#(i)"}"#.utf8))
            }
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "dead")).count == 3 })
            let dead = try await bridge.get("/admin/api/jobs?state=dead", auth)
            #expect(dead.json["jobs"]?.arrayValue?.first?["lastError"] == "unknown project \"Website\"; known: Engineering")
            fake.mutate { $0.projects.append(["id": "proj_web", "workspaceId": "ws_1", "name": "Website"]) }
            let one = try #require(dead.json["jobs"]?.arrayValue?.first?["id"]?.stringValue)
            #expect(try await bridge.post("/admin/api/jobs/\(one)/retry", auth, []).status.code == 200)
            #expect(await eventually { fake.tasks.count == 1 })
            let bulk = try await bridge.post("/admin/api/dead-letters/retry?source=widget", auth, [])
            #expect(bulk.json["retried"] == 2)
            #expect(await eventually { fake.tasks.count == 3 })
            #expect(try await bridge.post("/admin/api/jobs/\(one)/retry", auth, []).status.code == 409)
        }
    }

    @Test func replayPlansAStoredEventWithTheCurrentRules() async throws {
        let fake = GroupChatFake()
        let noRules = #"{"rules": []}"#
        let pushRule = #"""
        {"rules": [{"id": "push-task", "sources": ["github"], "events": ["push"],
                    "do": [{"action": "task.create", "title": "Pushed {{ body.ref }} to {{ body.repository.full_name }}"}]}]}
        """#
        try await withBridge(config: testConfig(rules: ["rules/*.json"]), ruleFiles: ["a.json": noRules], fake: fake,
                             dispatcher: true) { bridge async throws in
            let r = try await bridge.github(Fixtures.bytes("github/push.json"), event: "push", delivery: "push-1")
            let id = try #require(r.json["event"]?.stringValue)
            #expect(try await bridge.store.eventDetail(id: id)?.event.status == "unmatched")
            // A broken rule file is rejected and the old rules keep serving.
            try #"{"rules": [{"id": "x", "sources": ["github"], "events": ["push"], "do": [{"action": "task.craete"}]}]}"#
                .write(toFile: bridge.directory + "/rules/a.json", atomically: true, encoding: .utf8)
            let problems = await RuleReloader(runtime: bridge.runtime).reload(reason: "test")
            #expect(problems.map(\.description) == [
                "\(bridge.directory)/rules/a.json: rules[0].do[0].action: unknown value \"task.craete\" (did you mean \"task.create\"?); expected one of \"task.create\", \"task.update\", \"task.move\", \"task.complete\", \"task.reopen\", \"task.assign\", \"task.unassign\", \"agent.delegate\"",
            ])
            #expect(bridge.runtime.rules.rules.isEmpty)
            try pushRule.write(toFile: bridge.directory + "/rules/a.json", atomically: true, encoding: .utf8)
            #expect(await RuleReloader(runtime: bridge.runtime).reload(reason: "test").isEmpty)
            let replay = try await bridge.post("/admin/api/events/\(id)/replay", auth, [])
            #expect(replay.status.code == 200)
            #expect(replay.json["jobs"]?.arrayValue?.count == 1)
            #expect(await eventually { fake.tasks.count == 1 })
            #expect(fake.tasks.first?["title"] == "Pushed refs/tags/simple-tag to Codertocat/Hello-World")
        }
    }
}
