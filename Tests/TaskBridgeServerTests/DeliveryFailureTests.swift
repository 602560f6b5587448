import Foundation
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeStore
import TaskBridgeTestSupport

@Suite struct DeliveryFailureTests {
    let issue = Fixtures.bytes("sentry/issue.created.json")

    /// A revoked token is the operator's problem: the target pauses, no job is dead-
    /// lettered or spends an attempt, and a reload with a new token resumes delivery.
    @Test func aRejectedTokenPausesTheTargetUntilANewTokenIsLoaded() async throws {
        let fake = GroupChatFake()
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("tb-token-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        try "gck_revoked".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let config = testConfig().replacingOccurrences(of: #""token": {"env": "TEST_GC_TOKEN"}"#, with: #""token": {"file": "\#(tokenFile)"}"#)
        try await withBridge(config: config, fake: fake, dispatcher: true) { bridge async throws in
            for i in 0..<5 {
                let body = Fixtures.derived("sentry/issue.created.json", [("data.issue.id", .string("70\(i)"))])
                _ = try await bridge.sentry(body, resource: "issue", requestID: "t\(i)")
            }
            #expect(try await eventually {
                try await bridge.get("/metrics").text.contains(#"taskbridge_target_auth_failures_total{target="groupchat"}"#)
            })
            // Give a full-speed loop time to show itself: there is none.
            try await Task.sleep(nanoseconds: 1_000_000_000)
            let jobs = try await bridge.store.listJobs(JobFilter())
            #expect(jobs.count == 5)
            #expect(jobs.allSatisfy { $0.state == "pending" && $0.attempts == 0 })
            #expect(jobs.allSatisfy { ($0.lastError ?? "").contains("paused") || $0.lastError == nil })
            #expect(!jobs.contains { ($0.lastError ?? "").contains("gck_revoked") })
            #expect(fake.requests.count <= 5, "at most the requests in flight when the pause began, then one probe per backoff")
            // The operator rotates the token file and reloads (SIGHUP): deliveries resume.
            try GroupChatFake.workspaceKey.write(toFile: tokenFile, atomically: true, encoding: .utf8)
            await RuleReloader(runtime: bridge.runtime).reload(reason: "test")
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "succeeded")).count == 5 })
            #expect(fake.tasks.count == 5)
        }
    }

    /// A step whose target has no token waits; it is not handed back due at once and
    /// claimed again in a loop of writes.
    @Test func aStepForATargetWithoutATokenWaitsInsteadOfSpinning() async throws {
        let fake = GroupChatFake()
        let config = testConfig(rules: ["rules/*.json"]).replacingOccurrences(of: #""targets": {"#, with: #"""
            "targets": {
                "unset": {"kind": "groupchat", "baseURL": "{{FAKE}}", "token": {"env": "TEST_UNSET_TOKEN"}},
            """#)
        let rules = """
        {"rules": [{"id": "two-targets", "sources": ["sentry"], "events": ["issue.created"], "target": "groupchat", "do": [
          {"id": "t", "action": "task.create", "title": "{{ body.data.issue.title }}"},
          {"action": "task.update", "target": "unset", "task": {"step": "t"}, "title": "x"}
        ]}]}
        """
        try await withBridge(config: config, ruleFiles: ["r.json": rules], fake: fake, dispatcher: true) { bridge async throws in
            _ = try await bridge.sentry(issue, resource: "issue", requestID: "n1")
            // The second step is deferred: pending, with the reason, due well after now.
            let deferred = try await eventually {
                let j = try await bridge.store.listJobs(JobFilter()).first
                return j?.state == "pending" && j?.step == 1 && (j?.lastError ?? "").contains("has no token")
            }
            let seen = try await bridge.store.listJobs(JobFilter()).first
            #expect(deferred, "\(String(describing: seen))")
            let job = try #require(seen)
            #expect(job.dueAtMillis > WallClock.nowMillis() + 20_000, "the step waits before it is looked at again: \(job)")
            #expect(job.attempts == 0)
            #expect(job.lastError?.contains("target unset has no token") == true, "\(job.lastError ?? "nil")")
        }
    }

    /// A create that outlives its lease (upstream answers in 7 s, lease 5 s) is sent
    /// once: the lease is renewed while the step waits.
    @Test func aStepThatOutlivesItsLeaseIsSentOnce() async throws {
        let fake = GroupChatFake(chaos: FakeChaos(slow: 1, slowSeconds: 7, slowBeforeApplying: true, only: ["POST /api/v1/tasks"]))
        let config = testConfig(target: #", "timeoutSeconds": 30"#)
            .replacingOccurrences(of: #""delivery": {"#, with: #""delivery": {"leaseSeconds": 5, "#)
        try await withBridge(config: config, fake: fake, dispatcher: true) { bridge async throws in
            _ = try await bridge.sentry(issue, resource: "issue", requestID: "l1")
            #expect(try await eventually(30) { try await bridge.store.listJobs(JobFilter(state: "succeeded")).count == 1 })
            #expect(fake.requests("POST", "/api/v1/tasks").count == 1)
            #expect(fake.tasks.count == 1)
        }
    }

    /// A runner whose job is taken over (its claim is no longer current) stops at once:
    /// it sends nothing more and writes nothing.
    @Test func aRunnerThatLostItsLeaseStops() async throws {
        let fake = GroupChatFake(chaos: FakeChaos(slow: 1, slowSeconds: 4, only: ["POST /api/v1/tasks"]))
        let config = testConfig(rules: ["rules/*.json"])
            .replacingOccurrences(of: #""delivery": {"#, with: #""delivery": {"leaseSeconds": 5, "#)
        let rules = """
        {"rules": [{"id": "create-then-move", "sources": ["sentry"], "events": ["issue.created"], "do": [
          {"id": "t", "action": "task.create", "title": "{{ body.data.issue.title }}"},
          {"action": "task.update", "task": {"step": "t"}, "title": "second step"}
        ]}]}
        """
        try await withBridge(config: config, ruleFiles: ["r.json": rules], fake: fake, dispatcher: true) { bridge async throws in
            _ = try await bridge.sentry(issue, resource: "issue", requestID: "x1")
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter()).first?.state == "running" })
            try await Task.sleep(nanoseconds: 1_000_000_000)  // the create is in flight (4 s)
            // Another worker takes the job over while the create is in flight.
            _ = try await bridge.store.recoverJobs(expiredBeforeMillis: Int64.max, maxCrashes: 3, nowMillis: WallClock.nowMillis())
            let other = try #require(try await bridge.store.claimSuspect(targets: ["groupchat"], owner: "other-worker",
                                                                         nowMillis: WallClock.nowMillis(), leaseMillis: 600_000))
            try await Task.sleep(nanoseconds: 6_000_000_000)
            #expect(fake.requests("PATCH", "/api/v1/tasks").isEmpty, "the old runner must not run the next step")
            let job = try #require(try await bridge.store.listJobs(JobFilter()).first)
            #expect(job.state == "running")
            #expect(job.step == 0, "the old runner's progress was not recorded")
            #expect(try await bridge.store.update(JobUpdate(jobSeq: other.seq, fence: other.fence, change: .released(uncertain: true),
                                                            nowMillis: WallClock.nowMillis())))
        }
    }

    /// A replay is new work: new idempotency keys and markers, so an upstream that
    /// honours `Idempotency-Key` does not answer it from its cache.
    @Test func aReplayUsesNewIdempotencyKeys() async throws {
        let fake = GroupChatFake()
        fake.honourIdempotencyKeys()
        let rules = """
        {"rules": [{"id": "every-issue", "sources": ["sentry"], "events": ["issue.created"], "do": [
          {"action": "task.create", "title": "{{ body.data.issue.title }}"}
        ]}]}
        """
        try await withBridge(config: testConfig(rules: ["rules/*.json"]), ruleFiles: ["r.json": rules], fake: fake,
                             dispatcher: true) { bridge async throws in
            _ = try await bridge.sentry(issue, resource: "issue", requestID: "p1")
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "succeeded")).count == 1 })
            let id = try #require(try await bridge.store.listEvents(EventFilter()).first?.id)
            let replay = try await bridge.post("/admin/api/events/\(id)/replay", [("Authorization", "Bearer \(TestEnv.adminToken)")], [])
            #expect(replay.status.code == 200)
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "succeeded")).count == 2 })
            let keys = fake.requests("POST", "/api/v1/tasks").compactMap { $0.headers["idempotency-key"] }
            #expect(keys.count == 2)
            #expect(Set(keys).count == 2)
            #expect(fake.tasks.count == 2)
            let markers = fake.tasks.compactMap { $0["description"]?.stringValue }
            #expect(Set(markers).count == 2)
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
            #expect(["batch update of task task_7 failed (Task not found); sent again alone: PATCH /api/v1/tasks for task task_7 answered 404: Task not found",
                     "PATCH /api/v1/tasks for task task_7 answered 404: Task not found"].contains(dead.first?.lastError ?? ""))
            let batches = fake.requests("POST", "/api/v1/tasks/batch")
            #expect(!batches.isEmpty)
            let batched = batches.compactMap { $0.body?["operations"]?.arrayValue?.count }.reduce(0, +)
            let single = fake.requests("PATCH", "/api/v1/tasks").count
            // 50 updates; one that failed in a batch is sent again alone to classify it.
            #expect(batched + single == 50 || (batched + single == 51 && single >= 1))
            #expect(batches.allSatisfy { ($0.body?["operations"]?.arrayValue?.count ?? 0) <= 200 })
            #expect(fake.tasks.filter { $0["completed"] == true }.count == 49)
        }
    }

    /// A job a crash interrupted runs alone first; when that attempt fails, the job is a
    /// suspect again and must be tried again (it was once left pending for good: the
    /// dispatcher had looked for suspects while this one ran and found none).
    @Test func aSuspectWhoseAttemptFailsIsTriedAgain() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-suspect-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fake = GroupChatFake()
        // First life: the event is stored and its job claimed, and the process "dies" holding it.
        try await withBridge(fake: fake, dispatcher: false, directory: dir) { bridge async throws in
            #expect(try await bridge.sentry(issue, resource: "issue", requestID: "suspect-1").status.code == 202)
            let held = try await bridge.store.claimJobs(target: "groupchat", limit: 10, owner: "dead-process",
                                                        nowMillis: WallClock.nowMillis(), leaseMillis: 3_600_000)
            #expect(held.count == 1)
        }
        // Second life: start-up recovery takes the job back as a suspect; its lone attempts fail until GroupChat recovers.
        fake.refuseEverything(status: 500, message: "Internal error (injected)")
        try await fake.start()
        try await withBridge(fake: fake, dispatcher: true, directory: dir) { bridge async throws in
            let retried = try await eventually { (try await bridge.store.listJobs(JobFilter()).first?.attempts ?? 0) >= 2 }
            #expect(retried, "the suspect is retried while it fails: \(fake.requests.map { "\($0.method) \($0.path) \($0.status ?? 0)" })")
            fake.stopRefusing()
            #expect(await eventually { fake.tasks.count == 1 }, "and delivered once GroupChat answers")
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "succeeded")).count == 1 })
        }
    }
}
