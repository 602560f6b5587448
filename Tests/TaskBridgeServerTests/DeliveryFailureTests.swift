import Foundation
import GroupChatFake
import Testing
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTestSupport

@Suite struct DeliveryFailureTests {
    let issue = Fixtures.bytes("sentry/issue.created.json")

    @Test func aRejectedTokenDeadLettersAtOnceAndCountsAnAuthFailure() async throws {
        let fake = GroupChatFake()
        var env = TestEnv.values
        env["TEST_GC_TOKEN"] = "gck_revoked"
        try await withBridge(env: env, fake: fake, dispatcher: true) { bridge async throws in
            _ = try await bridge.sentry(issue, resource: "issue", requestID: "t1")
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "dead")).count == 1 })
            let job = try #require(try await bridge.store.listJobs(JobFilter()).first)
            #expect(job.attempts == 1)
            #expect(job.lastError == "GET /api/v1/projects answered 401: Unauthorized (check the target's token and workspace)")
            #expect(!(job.lastError ?? "").contains("gck_revoked"))
            let metrics = try await bridge.get("/metrics").text
            #expect(metrics.contains(#"taskbridge_target_auth_failures_total{target="groupchat"} 1"#))
        }
    }

    @Test func serverErrorsAreRetriedUntilTheyPass() async throws {
        let fake = GroupChatFake(chaos: FakeChaos(serverError: 1))
        try await withBridge(fake: fake, dispatcher: true) { bridge async throws in
            _ = try await bridge.sentry(issue, resource: "issue", requestID: "s1")
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter()).first?.attempts ?? 0 >= 2 })
            fake.setChaos(.none)
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "succeeded")).count == 1 })
            #expect(fake.tasks.count == 1)
            let eventId = try #require(try await bridge.store.listEvents(EventFilter()).first?.id)
            let detail = try #require(try await bridge.store.eventDetail(id: eventId))
            let outcomes = detail.attempts.values.first?.map(\.outcome) ?? []
            #expect(outcomes.last == "ok")
            #expect(outcomes.dropLast().allSatisfy { $0 == "retry" })
            #expect(outcomes.count >= 3)
        }
    }

    /// An upstream that drops every connection (as a crashed or overloaded service
    /// does) opens the breaker, which stops the attempts; when it recovers, the job is
    /// delivered. (Simulated with dropped connections on a live port rather than a
    /// closed port, which a parallel test could reuse.)
    @Test func aFailingTargetOpensTheBreakerAndDeliversWhenItRecovers() async throws {
        let fake = GroupChatFake(chaos: FakeChaos(reset: 1))
        let config = testConfig(target: #", "breaker": {"failureThreshold": 3, "openSeconds": 1}"#)
        try await withBridge(config: config, fake: fake, dispatcher: true) { bridge async throws in
            _ = try await bridge.sentry(issue, resource: "issue", requestID: "b1")
            #expect(try await eventually {
                try await bridge.get("/metrics").text.contains(#"taskbridge_breaker_state{target="groupchat"} 2"#)
            })
            let attemptsWhileOpen = try await bridge.store.listJobs(JobFilter()).first?.attempts
            #expect(attemptsWhileOpen == 3, "an open breaker stops attempts")
            fake.setChaos(.none)
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "succeeded")).count == 1 })
            #expect(fake.tasks.count == 1)
        }
    }

    /// Fifty completions due at once go out in batch calls, and each operation's own
    /// result settles its own job.
    @Test func updatesDueTogetherAreBatched() async throws {
        let fake = GroupChatFake()
        try await withBridge(fake: fake, dispatcher: true) { bridge async throws in
            for i in 0..<50 {
                let body = Fixtures.derived("sentry/issue.created.json", [("data.issue.id", .string("90\(i)"))])
                _ = try await bridge.sentry(body, resource: "issue", requestID: "c\(i)")
            }
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "succeeded", limit: 1000)).count == 50 })
            fake.clearRecorded()
            // One task vanishes upstream: its operation fails alone. A slow upstream
            // keeps calls in flight, so the completions come due together.
            fake.mutate { try? $0.deleteTask("task_7") }
            fake.setChaos(FakeChaos(slow: 1, slowSeconds: 0.1))
            for i in 0..<50 {
                let body = Fixtures.derived("sentry/issue.created.json", [("data.issue.id", .string("90\(i)")), ("action", "resolved")])
                _ = try await bridge.sentry(body, resource: "issue", requestID: "r\(i)")
            }
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "succeeded", limit: 1000)).count == 99 })
            let dead = try await bridge.store.listJobs(JobFilter(state: "dead"))
            #expect(dead.count == 1)
            // Alone or in a batch (timing decides), the failure names the task.
            #expect(["batch update of task task_7 failed: Task not found",
                     "PATCH /api/v1/tasks for task task_7 answered 404: Task not found"].contains(dead.first?.lastError ?? ""))
            let batches = fake.requests("POST", "/api/v1/tasks/batch")
            #expect(!batches.isEmpty)
            let batched = batches.compactMap { $0.body?["operations"]?.arrayValue?.count }.reduce(0, +)
            let single = fake.requests("PATCH", "/api/v1/tasks").count
            #expect(batched + single == 50)
            #expect(batches.allSatisfy { ($0.body?["operations"]?.arrayValue?.count ?? 0) <= 200 })
            #expect(fake.tasks.filter { $0["completed"] == true }.count == 49)
        }
    }
}
