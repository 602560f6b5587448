import Foundation
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeStore
import TaskBridgeTestSupport

/// `posthog.task.*` through the dispatcher against the strict PostHog fake: a Sentry issue
/// becomes one PostHog task and a run the job waits on (durably, holding no worker), and a
/// later step reads the run's pull request.
@Suite struct PostHogDeliveryTests {
    static let env = TestEnv.values.merging(["TEST_PH_TOKEN": PostHogFake.personalKey]) { $1 }

    /// The Sentry source, the GroupChat fake at {{FAKE}} and the PostHog fake at `posthog`
    /// (polled every 50 ms to 200 ms), and the rule files under `rules/`.
    static func config(posthog: String) -> String {
        """
        {
          "sources": {"sentry": {"kind": "sentry", "secrets": [{"env": "TEST_SENTRY_SECRET"}]}},
          "targets": {
            "groupchat": {"kind": "groupchat", "baseURL": "{{FAKE}}", "token": {"env": "TEST_GC_TOKEN"}, "defaultProject": "Engineering",
                          "retry": {"initialDelaySeconds": 0.02, "maxDelaySeconds": 0.2}},
            "posthog": {"kind": "posthog", "baseURL": "\(posthog)", "token": {"env": "TEST_PH_TOKEN"}, "projectId": 1, "timeoutSeconds": 5,
                        "poll": {"initialSeconds": 0.05, "maxSeconds": 0.2},
                        "retry": {"initialDelaySeconds": 0.02, "maxDelaySeconds": 0.2}}
          },
          "delivery": {"pollIntervalSeconds": 0.05, "shutdownGraceSeconds": 2},
          "admin": {"token": {"env": "TEST_ADMIN_TOKEN"}},
          "rules": ["rules/*.json"]
        }
        """
    }

    /// A task on the repository, a run the job waits for, and a GroupChat task that gets
    /// the pull request's URL.
    static func rule(maxMinutes: String = "30", repository: String = "acme/api", followUp: Bool = true) -> String {
        #"""
        {"rules": [{
          "id": "sentry-to-posthog", "sources": ["sentry"], "events": ["issue.created"], "target": "posthog",
          "do": [
            {"id": "coder", "action": "posthog.task.create", "title": "Fix {{ body.data.issue.shortId }}",
             "description": "{{ body.data.issue.title }}", "repository": "\#(repository)", "origin_product": "error_tracking",
             "link": {"key": "posthog:sentry-issue:{{ body.data.issue.id }}", "ifExists": "skip"}},
            {"id": "run", "action": "posthog.task.run", "task": {"step": "coder"}, "wait": {"until": "finished", "maxMinutes": \#(maxMinutes)}}
        """# + (followUp ? #"""
            ,
            {"action": "task.create", "target": "groupchat", "title": "Review {{ steps.coder.task.slug }}",
             "description": "PR: {{ steps.run.pr_url }} ({{ steps.run.status }})"}
        """# : "") + "\n]}]}"
    }

    func withPostHog(_ fake: PostHogFake = PostHogFake(), rule: String = Self.rule(), env: [String: String] = Self.env,
                     directory: String? = nil, _ body: @Sendable (Bridge, PostHogFake, GroupChatFake) async throws -> Void) async throws {
        if fake.port == 0 { try await fake.start() }
        let groupchat = GroupChatFake()
        do {
            try await withBridge(config: Self.config(posthog: fake.baseURL), ruleFiles: ["posthog.json": rule], env: env,
                                 fake: groupchat, dispatcher: true, directory: directory) { bridge in
                try await body(bridge, fake, groupchat)
            }
        } catch {
            await fake.stop()
            throw error
        }
        if directory == nil { await fake.stop() }
    }

    func issue(_ id: String) -> [UInt8] {
        Fixtures.derived("sentry/issue.created.json", [("data.issue.id", .string(id))])
    }

    func job(_ bridge: Bridge) async throws -> JobSummary? {
        try await bridge.store.listJobs(JobFilter(limit: 10)).first
    }

    func attempts(_ bridge: Bridge, _ job: JobSummary) async throws -> [AttemptRecord] {
        try await bridge.store.eventDetail(id: job.eventId)?.attempts[job.id] ?? []
    }

    @Test func theJobWaitsForTheRunAndALaterStepReadsItsPullRequest() async throws {
        try await withPostHog { bridge, posthog, groupchat in
            posthog.mutate { $0.nextRunScripts = [.completes(queuedPolls: 3, inProgressPolls: 3)] }
            #expect(try await bridge.sentry(issue("501"), resource: "issue", requestID: "r1").status.code == 202)
            #expect(try await eventually { try await job(bridge)?.state == "waiting" })
            #expect(try await eventually { try await job(bridge)?.state == "succeeded" })
            let project = try #require(posthog.project())
            #expect(project.allTasks.count == 1)
            let task = try #require(project.allTasks.first)
            #expect(task.description.hasSuffix("<!-- taskbridge:") == false)
            #expect(task.description.contains("<!-- taskbridge:tb_"))
            #expect(task.repository == "acme/api")
            #expect(project.runs(ofTask: task.id).count == 1, "exactly one run")
            let created = try #require(groupchat.tasks.first)
            #expect(created["description"]?.stringValue?.hasPrefix("PR: https://github.com/acme/api/pull/1 (completed)") == true, "\(created)")
            #expect(created["title"] == "Review DEF-0")
            // The attempts show the wait: one to note the task's run, one to start it, the polls.
            let done = try #require(try await job(bridge))
            let outcomes = try await attempts(bridge, done).map(\.outcome)
            #expect(outcomes.first == "ok")
            #expect(outcomes.filter { $0 == "waiting" }.count >= 3, "\(outcomes)")
            #expect(outcomes.suffix(2) == ["ok", "ok"], "\(outcomes)")
            #expect(posthog.unknownFields.isEmpty)
        }
    }

    @Test func aFailedRunDeadLettersWithPostHogsMessage() async throws {
        try await withPostHog { bridge, posthog, groupchat in
            posthog.mutate { $0.nextRunScripts = [.fails("Agent could not reproduce the error")] }
            _ = try await bridge.sentry(issue("502"), resource: "issue", requestID: "r2")
            #expect(try await eventually { try await job(bridge)?.state == "dead" })
            let dead = try #require(try await job(bridge))
            #expect(dead.lastError?.hasSuffix("failed: Agent could not reproduce the error") == true, "\(dead.lastError ?? "")")
            #expect(dead.step == 1)
            #expect(groupchat.tasks.isEmpty, "the later step never ran")
            // Retrying the dead letter starts a new run (following the failed one again
            // could only fail again), and the job goes on.
            posthog.mutate { $0.nextRunScripts = [.completes()] }
            let retried = try await bridge.post("/admin/api/jobs/\(dead.id)/retry", [("Authorization", "Bearer \(TestEnv.adminToken)")], [])
            #expect(retried.status.code == 200, "\(retried.text)")
            #expect(try await eventually { try await job(bridge)?.state == "succeeded" })
            #expect(posthog.project()?.runs.count == 2)
            #expect(posthog.project()?.allTasks.count == 1)
            #expect(groupchat.tasks.count == 1)
        }
    }

    @Test func aRunStillGoingAfterMaxMinutesDeadLetters() async throws {
        try await withPostHog(rule: Self.rule(maxMinutes: "0.01")) { bridge, posthog, _ in
            posthog.mutate { $0.nextRunScripts = [.stuckQueued] }
            _ = try await bridge.sentry(issue("503"), resource: "issue", requestID: "r3")
            #expect(try await eventually { try await job(bridge)?.state == "dead" })
            let dead = try #require(try await job(bridge))
            #expect(dead.lastError?.contains("is still queued after 0.01 minutes (wait.maxMinutes)") == true, "\(dead.lastError ?? "")")
            #expect(posthog.project()?.runs.count == 1)
        }
    }

    @Test func lostAnswersAreReconciledToOneTaskAndOneRun() async throws {
        let fake = PostHogFake(chaos: FakeChaos(acceptedThenReset: 1, only: ["POST \(PostHogFake.tasksRoute)", "POST \(PostHogFake.runRoute)"]))
        try await withPostHog(fake, rule: Self.rule(followUp: false)) { bridge, posthog, _ in
            _ = try await bridge.sentry(issue("504"), resource: "issue", requestID: "r4")
            #expect(try await eventually { try await job(bridge)?.state == "succeeded" })
            let project = try #require(posthog.project())
            #expect(project.allTasks.count == 1, "the create that lost its answer was found by its marker")
            #expect(project.runs.count == 1, "the run that lost its answer was adopted, not started again")
            #expect(posthog.requests("POST", route: PostHogFake.tasksRoute).count == 1)
            #expect(posthog.requests("POST", route: PostHogFake.runRoute).count == 1)
            #expect(posthog.requests("GET", route: PostHogFake.tasksRoute).first?.query.contains("search=") == true)
        }
    }

    @Test func validationErrorsAreDeadLetteredWithPostHogsErrorInTheAttempt() async throws {
        try await withPostHog(rule: Self.rule(repository: "not-a-repository")) { bridge, posthog, _ in
            _ = try await bridge.sentry(issue("505"), resource: "issue", requestID: "r5")
            #expect(try await eventually { try await job(bridge)?.state == "dead" })
            let dead = try #require(try await job(bridge))
            #expect(dead.attempts == 1, "permanent: not retried")
            #expect(dead.lastError == "POST /api/projects/1/tasks/ answered 400: Repository must be in the format organization/repository "
                    + "(attr repository, code invalid, type validation_error)")
            let attempt = try #require(try await attempts(bridge, dead).last)
            #expect(attempt.status == 400)
            let body = try JSONParser.parse(Array((attempt.response ?? "").utf8))
            #expect(body["type"] == "validation_error")
            #expect(body["attr"] == "repository")
            #expect(posthog.project()?.allTasks.isEmpty == true)
        }
    }

    @Test func aRunOnATaskThatIsGoneIsPermanent() async throws {
        let rule = #"""
        {"rules": [{"id": "run-linked", "sources": ["sentry"], "events": ["issue.created"], "target": "posthog",
          "do": [{"action": "posthog.task.run", "task": {"id": "00000000-0000-4000-8000-000000000000"}}]}]}
        """#
        try await withPostHog(rule: rule) { bridge, _, _ in
            _ = try await bridge.sentry(issue("506"), resource: "issue", requestID: "r6")
            #expect(try await eventually { try await job(bridge)?.state == "dead" })
            let dead = try #require(try await job(bridge))
            #expect(dead.lastError?.contains("answered 404: Not found.") == true, "\(dead.lastError ?? "")")
        }
    }

    @Test func aRefusedKeyPausesTheTarget() async throws {
        let env = Self.env.merging(["TEST_PH_TOKEN": "phx_revoked"]) { $1 }
        try await withPostHog(env: env) { bridge, posthog, _ in
            _ = try await bridge.sentry(issue("507"), resource: "issue", requestID: "r7")
            #expect(try await eventually {
                try await bridge.get("/metrics").text.contains(#"taskbridge_target_auth_failures_total{target="posthog"}"#)
            })
            let held = try #require(try await job(bridge))
            #expect(held.state == "pending")
            #expect(held.attempts == 0)
            #expect(held.lastError?.contains("paused") == true, "\(held.lastError ?? "")")
            #expect(posthog.requests.count == 1, "one request, then the target waits for a probe or new credentials")
        }
    }

    /// The wait is durable: the bridge stops while the run is still going, a new one on the
    /// same data directory goes on polling the same run, and nothing is sent twice.
    @Test func aWaitingRunSurvivesARestart() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-posthog-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fake = PostHogFake()
        try await fake.start()
        fake.mutate { $0.nextRunScripts = [.completes(queuedPolls: 20, inProgressPolls: 4)] }
        try await withPostHog(fake, rule: Self.rule(followUp: false), directory: dir) { bridge, posthog, _ in
            _ = try await bridge.sentry(issue("508"), resource: "issue", requestID: "r8")
            // Stop while the job waits between polls of a run that is still going.
            #expect(try await eventually {
                let polls = posthog.project()?.runs.values.first?.polls ?? 0
                return try await job(bridge)?.state == "waiting" && polls >= 2
            })
        }
        let pollsBefore = try #require(fake.project()?.runs.values.first?.polls)
        #expect(pollsBefore < 24, "the run was still going when the bridge stopped")
        try await withPostHog(fake, rule: Self.rule(followUp: false), directory: dir) { bridge, posthog, _ in
            #expect(try await eventually { try await job(bridge)?.state == "succeeded" })
            let project = try #require(posthog.project())
            #expect(project.allTasks.count == 1)
            #expect(project.runs.count == 1)
            #expect((project.runs.values.first?.polls ?? 0) > pollsBefore)
            let done = try #require(try await job(bridge))
            #expect(done.outputs.contains("https://github.com/acme/api/pull/1"), "\(done.outputs)")
        }
        await fake.stop()
    }

    /// `taskbridge test` follows the wait poll by poll and shows every request.
    @Test func theDryRunShowsTheRunAndItsPoll() async throws {
        try await withPostHog { bridge, posthog, _ in
            let report = try await DryRun(config: bridge.runtime.config, rules: bridge.runtime.rules, environment: Self.env)
                .run(source: "sentry", headers: HeaderFields([("sentry-hook-resource", "issue")]), body: issue("509"), live: false)
            let steps = try #require(report.matches.first?.steps)
            #expect(steps.map(\.action) == ["posthog.task.create", "posthog.task.run", "task.create"])
            #expect(steps.allSatisfy { $0.error == nil }, "\(steps.map { $0.error ?? "-" })")
            #expect(steps[1].waits == [0, 0.05])
            #expect(steps[1].requests.map { "\($0.method) \($0.path)" } == [
                "GET /api/projects/1/tasks/<new task 1>/", "POST /api/projects/1/tasks/<new task 1>/run/",
                "GET /api/projects/1/tasks/<new task 1>/runs/<new run 1>/",
            ])
            #expect(steps[2].requests.last?.body?["description"]?.stringValue?.hasPrefix("PR: <pr_url of run <new run 1>> (completed)") == true)
            #expect(posthog.requests.isEmpty, "nothing is sent without --live")
        }
    }
}
