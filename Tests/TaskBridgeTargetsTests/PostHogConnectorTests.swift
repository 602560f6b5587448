import AsyncHTTPClient
import UpstreamFakes
import Logging
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport
@testable import TaskBridgeTargets

/// The PostHog connector over real HTTP against the strict fake (unknown fields refused).
@Suite struct PostHogConnectorTests {
    static let create = PostHogKind.action("posthog.task.create")
    static let update = PostHogKind.action("posthog.task.update")
    static let run = PostHogKind.action("posthog.task.run")

    struct Rig {
        let fake: PostHogFake
        let connector: PostHogConnector
        let links: Locked<[String: LinkedTask]>
        let clock: Locked<Double>
        let gate: TargetGate

        func execute(_ step: RenderedStep, key: String = "tb_test", uncertain: Bool = false, state: JSONValue? = nil) async -> StepResult {
            let links = self.links
            return await connector.execute(step, context: .init(idempotencyKey: key, uncertain: uncertain, waitState: state,
                                                               lookupLink: { k in links.withLock { $0[k] } }))
        }

        /// Executes as the runner would: again after each wait (with its state, the clock
        /// moved on by the wait), until the step succeeds or fails. Returns the last result
        /// and the waits asked for.
        func drive(_ step: RenderedStep, key: String = "tb_test", uncertain: Bool = false,
                   state: JSONValue? = nil) async -> (StepResult, [Double]) {
            var waits: [Double] = []
            var result = await execute(step, key: key, uncertain: uncertain, state: state)
            while case .wait(let seconds, let next) = result.outcome, waits.count < 50 {
                waits.append(seconds)
                clock.withLock { $0 += seconds }
                result = await execute(step, key: key, state: next)
            }
            return (result, waits)
        }

        var project: PostHogProject { fake.project()! }
    }

    static func config(token: String = PostHogFake.personalKey, baseURL: String) -> (TargetConfig, SecretResolver) {
        var config = TargetConfig(name: "ph", kind: "posthog", baseURL: baseURL)
        config.token = .env("PH_TOKEN")
        var settings = PostHogSettings()
        settings.projectId = StringSetting(literal: "1")
        config.settings = settings
        config.actions = PostHogKind().actions
        // Generous: the suite shares two cores with the PostgreSQL and replica tests; a
        // timeout would turn an expected outcome into a retryable failure.
        config.timeoutSeconds = 15
        return (config, SecretResolver(environment: ["PH_TOKEN": token]))
    }

    func withRig(token: String = PostHogFake.personalKey, _ body: (Rig) async throws -> Void) async throws {
        let fake = PostHogFake()
        fake.mutate { $0.strictUnknownFields = true }
        try await fake.start()
        do {
            try await withHTTPClient { client in
                let clock = Locked(1_800_000_000.0)
                let gate = TargetGate(name: "ph", concurrency: 4, rateLimit: nil, breaker: BreakerSettings())
                let (config, secrets) = Self.config(token: token, baseURL: fake.baseURL)
                let env = ConnectorEnvironment(client: client, secrets: secrets, gate: gate, logger: Logger(label: "test"),
                                               wallClock: { clock.value })
                let connector = try #require(try PostHogKind().connector(for: config, environment: env) as? PostHogConnector)
                try await body(Rig(fake: fake, connector: connector, links: Locked([:]), clock: clock, gate: gate))
            }
        } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }

    func output(_ r: StepResult) -> JSONValue? { r.output }
    func failure(_ r: StepResult) -> StepFailure? { r.failure }

    static func createStep(_ values: [String: JSONValue] = [:], link: String? = nil) -> RenderedStep {
        RenderedStep(stepId: "task", action: create, target: "ph",
                     values: ["title": "Fix the crash", "description": "TypeError in checkout", "repository": "Acme/Shop",
                              "origin_product": "error_tracking", "github_integration": 101].merging(values) { $1 },
                     linkKey: link)
    }

    static func runStep(_ task: String, wait: JSONValue? = nil, mode: String? = nil) -> RenderedStep {
        var values: [String: JSONValue] = [:]
        if let wait { values["wait"] = wait }
        if let mode { values["mode"] = .string(mode) }
        return RenderedStep(stepId: "run", action: run, target: "ph", task: .id(task), values: values)
    }

    /// Creates a task through the connector and returns its id.
    func createTask(_ rig: Rig, key: String = "tb_seed") async throws -> String {
        let r = await rig.execute(Self.createStep(), key: key)
        return try #require(output(r)?["task"]?["id"]?.stringValue, "\(r.outcome)")
    }

    // MARK: - Tasks

    @Test func createSendsTheDocumentedFieldsWithTheMarker() async throws {
        try await withRig { rig in
            let r = await rig.execute(Self.createStep(link: "sentry-issue:1"))
            let task = try #require(output(r)?["task"])
            #expect(task["title"] == "Fix the crash")
            #expect(task["repository"] == "acme/shop")
            #expect(task["origin_product"] == "error_tracking")
            #expect(task["github_integration"] == 101)
            #expect(task["description"] == "TypeError in checkout\n\n<!-- taskbridge:tb_test -->")
            guard case .success(_, let link?) = r.outcome else { Issue.record("no link"); return }
            #expect(link.key == "sentry-issue:1")
            #expect(link.taskId == task["id"]?.stringValue)
            #expect(r.wire.map(\.request) == [
                #"POST /api/projects/1/tasks/ {"description":"TypeError in checkout\n\n<!-- taskbridge:tb_test -->","github_integration":101,"origin_product":"error_tracking","repository":"Acme/Shop","title":"Fix the crash"}"#,
            ])
            #expect(r.wire.first?.status == 201)
            #expect(rig.project.allTasks.count == 1)
            let sent = try #require(rig.fake.requests.first)
            #expect(sent.headers["authorization"] == "Bearer \(PostHogFake.personalKey)")
            #expect(sent.headers["idempotency-key"] == nil, "PostHog documents no idempotency header")
            #expect(rig.fake.unknownFields.isEmpty)
            // What a job keeps when no later step reads the task.
            #expect(rig.connector.compact(try #require(output(r))) == [
                "task": ["id": task["id"]!, "task_number": 0, "slug": "DEF-0", "title": "Fix the crash"], "created": true,
            ])
        }
    }

    @Test func aLinkedTaskIsSkippedOrUpdated() async throws {
        try await withRig { rig in
            let id = try await createTask(rig)
            rig.links.withLock { $0["k"] = LinkedTask(taskId: id, projectId: nil) }
            let skipped = await rig.execute(Self.createStep(link: "k"), key: "tb_other")
            #expect(output(skipped) == ["task": ["id": .string(id)], "created": false])
            #expect(skipped.wire.isEmpty)
            var step = Self.createStep(["title": "Renamed"], link: "k")
            step.ifLinked = .update
            let updated = await rig.execute(step, key: "tb_other")
            #expect(output(updated)?["task"]?["title"] == "Renamed")
            #expect(rig.project.allTasks.count == 1)
        }
    }

    @Test func anUncertainCreateAdoptsTheTaskItMade() async throws {
        try await withRig { rig in
            rig.fake.setChaos(FakeChaos(acceptedThenReset: 1, only: ["POST \(PostHogFake.tasksRoute)"]))
            let first = await rig.execute(Self.createStep())
            let lost = try #require(failure(first))
            #expect(lost.failureClass == .retryable)
            #expect(lost.sent, "the request may have been delivered")
            #expect(rig.project.allTasks.count == 1, "the fake created it anyway")
            rig.fake.setChaos(.none)
            // Search is case-insensitive; the marker check is not: this task is not ours.
            rig.fake.mutate { p in _ = try? p.seedTask(["title": "x", "description": "<!-- TASKBRIDGE:TB_TEST -->"], createdBy: .ada) }
            let again = await rig.execute(Self.createStep(), uncertain: true)
            let task = try #require(output(again)?["task"])
            #expect(task["id"]?.stringValue == rig.project.tasks(describedWith: PostHogConnector.marker("tb_test")).first?.id)
            #expect(output(again)?["reconciled"] == true)
            #expect(rig.project.tasks(describedWith: PostHogConnector.marker("tb_test")).count == 1)
            #expect(again.wire.map(\.request) == [
                "GET /api/projects/1/tasks/?archived=all&internal=all&limit=100&search=%3C%21--+taskbridge%3Atb_test+--%3E",
            ])
            // Nothing found: the create is sent.
            let fresh = await rig.execute(Self.createStep(), key: "tb_new", uncertain: true)
            #expect(fresh.wire.map { String($0.request.prefix(31)) } == ["GET /api/projects/1/tasks/?arch", "POST /api/projects/1/tasks/ {\"d"])
            #expect(rig.project.allTasks.count == 3)
        }
    }

    @Test func updateSendsOnlyTheFieldsGiven() async throws {
        try await withRig { rig in
            let id = try await createTask(rig)
            let step = RenderedStep(stepId: "u", action: Self.update, target: "ph", task: .id(id),
                                    values: ["title": "New title", "repository": .null], linkKey: "k")
            let r = await rig.execute(step)
            #expect(output(r)?["task"]?["title"] == "New title")
            #expect(output(r)?["task"]?["repository"] == .null)
            #expect(r.wire.map(\.request) == [#"PATCH /api/projects/1/tasks/\#(id)/ {"repository":null,"title":"New title"}"#])
            guard case .success(_, let link?) = r.outcome else { Issue.record("no link"); return }
            #expect(link.taskId == id)
        }
    }

    // MARK: - Runs

    @Test func aRunWithoutWaitReturnsAtOnceWithItsInitialStatus() async throws {
        try await withRig { rig in
            let id = try await createTask(rig)
            let (r, waits) = await rig.drive(Self.runStep(id, mode: "background"))
            #expect(waits == [0], "one durable pause between reading the task and starting the run")
            let out = try #require(output(r))
            #expect(out["status"] == "queued")
            #expect(out["task"]?["id"]?.stringValue == id)
            #expect(r.wire.map(\.request) == [#"POST /api/projects/1/tasks/\#(id)/run/ {"mode":"background"}"#])
            #expect(rig.project.runs(ofTask: id).count == 1)
        }
    }

    @Test func aWaitingRunPollsUntilItCompletesAndOutputsThePR() async throws {
        try await withRig { rig in
            let id = try await createTask(rig)
            rig.fake.mutate { $0.nextRunScripts = [.completes(queuedPolls: 2, inProgressPolls: 3)] }
            let step = Self.runStep(id, wait: ["until": "finished", "maxMinutes": 30])
            // First execution: reads the task, saves its latest run (none) and waits.
            let first = await rig.execute(step)
            guard case .wait(0, let startState) = first.outcome else { Issue.record("\(first.outcome)"); return }
            #expect(startState == ["phase": "start", "task": .string(id), "before": nil])
            #expect(first.wire.map(\.request) == ["GET /api/projects/1/tasks/\(id)/"])
            // Second: starts the run and waits for it.
            let second = await rig.execute(step, state: startState)
            guard case .wait(5, let pollState) = second.outcome else { Issue.record("\(second.outcome)"); return }
            let runId = try #require(rig.project.runs(ofTask: id).first?.id)
            #expect(pollState["phase"] == "poll")
            #expect(pollState["run"]?.stringValue == runId)
            #expect(pollState["startedAt"] == 1_800_000_000)
            let (r, waits) = await rig.drive(step, state: pollState)
            #expect(waits == [7.5, 11.25, 16.875, 25.3125, 37.96875], "5 s growing by half, one poll a step of the script")
            let out = try #require(output(r))
            #expect(out["status"] == "completed")
            #expect(out["pr_url"] == "https://github.com/acme/shop/pull/1")
            #expect(out["output"]?["pr_url"] == "https://github.com/acme/shop/pull/1")
            #expect(out["error_message"] == .null)
            #expect(out["run"]?["id"]?.stringValue == runId)
            #expect(out["task"] == ["id": .string(id), "task_number": 0, "slug": "DEF-0", "title": "Fix the crash"])
            #expect(r.wire.map(\.request) == ["GET /api/projects/1/tasks/\(id)/runs/\(runId)/"])
            #expect(rig.project.runs(ofTask: id).count == 1)
            #expect(rig.connector.compact(out) == [
                "task": out["task"]!, "run": ["id": .string(runId), "status": "completed", "pr_url": "https://github.com/acme/shop/pull/1"],
                "status": "completed", "pr_url": "https://github.com/acme/shop/pull/1",
            ])
        }
    }

    @Test func pollIntervalsGrowToAMinuteAndNeverPassTheDeadline() {
        let s = PollSchedule()
        #expect((0..<9).map { s.interval(afterPolls: $0) } == [5, 7.5, 11.25, 16.875, 25.3125, 37.96875, 56.953125, 60, 60])
        #expect(PollSchedule(initial: 0.1, max: 0.2).interval(afterPolls: 5) == 0.2)
    }

    @Test func anUncertainRunAdoptsTheRunItStarted() async throws {
        try await withRig { rig in
            let id = try await createTask(rig)
            // An older run exists: it must not be mistaken for ours.
            _ = await rig.drive(Self.runStep(id))
            let older = try #require(rig.project.runs(ofTask: id).last?.id)
            let step = Self.runStep(id, wait: ["maxMinutes": 30])
            let first = await rig.execute(step)
            guard case .wait(_, let start) = first.outcome else { Issue.record("\(first.outcome)"); return }
            #expect(start["before"]?.stringValue == older)
            rig.fake.setChaos(FakeChaos(acceptedThenReset: 1, only: ["POST \(PostHogFake.runRoute)"]))
            let lost = await rig.execute(step, state: start)
            #expect(failure(lost)?.sent == true)
            #expect(rig.project.runs(ofTask: id).count == 2, "the run started although the answer was lost")
            rig.fake.setChaos(.none)
            // The retry (uncertain, same saved state) adopts it instead of starting a third.
            let retried = await rig.execute(step, uncertain: true, state: start)
            guard case .wait(_, let poll) = retried.outcome else { Issue.record("\(retried.outcome)"); return }
            let adopted = try #require(rig.project.runs(ofTask: id).last?.id)
            #expect(poll["run"]?.stringValue == adopted)
            #expect(retried.wire.map(\.request) == ["GET /api/projects/1/tasks/\(id)/"])
            let (done, _) = await rig.drive(step, state: poll)
            #expect(output(done)?["status"] == "completed")
            #expect(rig.project.runs(ofTask: id).count == 2)
        }
    }

    @Test func anUncertainRunThatNeverReachedPostHogIsSent() async throws {
        try await withRig { rig in
            let id = try await createTask(rig)
            let step = Self.runStep(id)
            let first = await rig.execute(step)
            guard case .wait(_, let start) = first.outcome else { Issue.record("\(first.outcome)"); return }
            rig.fake.setChaos(FakeChaos(reset: 1, only: ["POST \(PostHogFake.runRoute)"]))
            _ = await rig.execute(step, state: start)
            #expect(rig.project.runs(ofTask: id).isEmpty)
            rig.fake.setChaos(.none)
            let retried = await rig.execute(step, uncertain: true, state: start)
            #expect(output(retried)?["status"] == "queued")
            #expect(retried.wire.map { String($0.request.prefix(4)) } == ["GET ", "POST"])
            #expect(rig.project.runs(ofTask: id).count == 1)
        }
    }

    @Test func aFailedRunFailsTheStepWithPostHogsMessage() async throws {
        try await withRig { rig in
            let id = try await createTask(rig)
            rig.fake.mutate { $0.nextRunScripts = [.fails("Agent could not reproduce the error")] }
            let (r, _) = await rig.drive(Self.runStep(id, wait: ["until": "finished"]))
            let f = try #require(failure(r))
            #expect(f.failureClass == .permanent)
            #expect(f.reason.hasSuffix("failed: Agent could not reproduce the error"), "\(f.reason)")
            rig.fake.mutate { $0.nextRunScripts = [.cancels()] }
            let (c, _) = await rig.drive(Self.runStep(id, wait: ["until": "finished"]))
            #expect(failure(c)?.failureClass == .permanent)
            #expect(failure(c)?.reason.hasSuffix("was cancelled") == true)
        }
    }

    @Test func aRunStillGoingAfterMaxMinutesFailsTheStep() async throws {
        try await withRig { rig in
            let id = try await createTask(rig)
            rig.fake.mutate { $0.nextRunScripts = [.stuckQueued] }
            let (r, waits) = await rig.drive(Self.runStep(id, wait: ["maxMinutes": 1]))
            let f = try #require(failure(r))
            #expect(f.failureClass == .permanent)
            #expect(f.reason.contains("is still queued after 1 minutes (wait.maxMinutes)"), "\(f.reason)")
            #expect(waits.dropFirst().reduce(0, +) == 60, "polls until the deadline and not past it: \(waits)")
            #expect(rig.project.runs(ofTask: id).count == 1)
        }
    }

    @Test func badWaitValuesArePermanent() async throws {
        try await withRig { rig in
            let r = await rig.execute(Self.runStep("x", wait: ["maxMinutes": 0]))
            #expect(failure(r)?.failureClass == .permanent)
            #expect(failure(r)?.reason.contains("wait.maxMinutes must be more than 0") == true)
            #expect(r.wire.isEmpty)
        }
    }

    // MARK: - Errors

    @Test func validationErrorsArePermanentAndShowPostHogsShape() async throws {
        try await withRig { rig in
            let r = await rig.execute(Self.createStep(["repository": "not-a-repo"]))
            let f = try #require(failure(r))
            #expect(f.failureClass == .permanent)
            #expect(f.status == 400)
            #expect(f.reason == "POST /api/projects/1/tasks/ answered 400: Repository must be in the format organization/repository "
                    + "(attr repository, code invalid, type validation_error)")
            let body = try JSONParser.parse(Array((r.wire.last?.response ?? "").utf8))
            #expect(body == ["type": "validation_error", "code": "invalid",
                             "detail": "Repository must be in the format organization/repository", "attr": "repository"])
            let missing = await rig.execute(Self.runStep("00000000-0000-4000-8000-000000000000"))
            #expect(failure(missing)?.failureClass == .permanent)
            #expect(failure(missing)?.status == 404)
            #expect(failure(missing)?.reason.hasSuffix("answered 404: Not found. (code not_found, type invalid_request)") == true)
        }
    }

    @Test func refusedKeysPauseTheTarget() async throws {
        try await withRig(token: "phx_revoked") { rig in
            let r = await rig.execute(Self.createStep())
            #expect(failure(r)?.failureClass == .authentication)
            #expect(failure(r)?.status == 401)
            #expect(failure(r)?.reason.contains("personal API key with task:read and task:write") == true)
        }
        try await withRig(token: PostHogFake.readOnlyKey) { rig in
            let r = await rig.execute(Self.createStep())
            #expect(failure(r)?.failureClass == .authentication)
            #expect(failure(r)?.reason.contains("API key missing required scope 'task:write'") == true, "\(failure(r)?.reason ?? "")")
        }
    }

    @Test func theUsageLimitRetriesAtItsResetTime() async throws {
        try await withRig { rig in
            let id = try await createTask(rig)
            rig.fake.mutate { $0.usageLimit = .init(limitType: "burst", resetAt: "2027-01-15T08:00:30Z") }
            rig.clock.withLock { $0 = Double(ISO8601.parseMillis("2027-01-15T08:00:00Z")!) / 1000 }
            let (r, _) = await rig.drive(Self.runStep(id))
            let f = try #require(failure(r))
            #expect(f.failureClass == .retryable)
            #expect(f.status == 429)
            #expect(f.retryAfterSeconds == 30)
            #expect(f.reason.contains("You've reached your PostHog Desktop usage limit. (code usage_limit_exceeded, type rate_limited, limit_type burst, reset_at 2027-01-15T08:00:30Z)"), "\(f.reason)")
            #expect(rig.project.runs(ofTask: id).isEmpty)
        }
    }

    @Test func serverErrorsAndRateLimitsAreRetried() async throws {
        try await withRig { rig in
            rig.fake.setChaos(FakeChaos(rateLimited: 1, retryAfterSeconds: 7))
            let limited = await rig.execute(Self.createStep())
            #expect(failure(limited)?.failureClass == .retryable)
            #expect(failure(limited)?.retryAfterSeconds == 7)
            rig.fake.setChaos(FakeChaos(serverError: 1))
            let broken = await rig.execute(Self.createStep())
            #expect(failure(broken)?.failureClass == .retryable)
            #expect(failure(broken)?.status == 500)
            #expect(rig.project.allTasks.isEmpty)
        }
    }

    // MARK: - Dry run and config

    @Test func theDryRunShowsTheWholeSequenceWithTheTokenRedacted() async throws {
        let log = RequestLog()
        let (config, secrets) = Self.config(baseURL: "https://us.posthog.com")
        let env = ConnectorEnvironment(client: nil, secrets: secrets, gate: TargetGate(name: "ph", concurrency: 1, rateLimit: nil,
                                                                                       breaker: BreakerSettings()),
                                       logger: Logger(label: "test"), wallClock: { 1_800_000_000 })
        let connector = PostHogKind().dryRunConnector(for: config, environment: env, live: false, log: log)
        let created = await connector.execute(Self.createStep(), context: .init(idempotencyKey: "tb_k", uncertain: false, lookupLink: { _ in nil }))
        let id = try #require(output(created)?["task"]?["id"]?.stringValue)
        var result = await connector.execute(Self.runStep(id, wait: ["maxMinutes": 5]),
                                             context: .init(idempotencyKey: "tb_r", uncertain: false, lookupLink: { _ in nil }))
        var waits: [Double] = []
        while case .wait(let s, let state) = result.outcome, waits.count < 5 {
            waits.append(s)
            result = await connector.execute(Self.runStep(id, wait: ["maxMinutes": 5]),
                                             context: .init(idempotencyKey: "tb_r", uncertain: false, waitState: state, lookupLink: { _ in nil }))
        }
        #expect(waits == [0, 5], "finishes after one poll")
        #expect(output(result)?["pr_url"] == "<pr_url of run <new run 1>>")
        #expect(log.requests.map { "\($0.method) \($0.path)" } == [
            "POST /api/projects/1/tasks/", "GET /api/projects/1/tasks/<new task 1>/", "POST /api/projects/1/tasks/<new task 1>/run/",
            "GET /api/projects/1/tasks/<new task 1>/runs/<new run 1>/",
        ])
        #expect(log.requests.allSatisfy { $0.headers.contains { $0 == ("Authorization", "Bearer <redacted>") } })
        #expect(!log.requests.contains { r in r.headers.contains { $0.1.contains(PostHogFake.personalKey) } })
    }

    static func liveSteps(_ steps: String) throws -> [LiveCheckStep] {
        let config = #"{"sources": {"sentry": {"kind": "sentry", "secrets": [{"env": "S"}]}}, "targets": {"ph": {"kind": "posthog", "token": {"env": "T"}, "projectId": 1}}}"#
        let parsed = try ConfigParser.parse(Array(config.utf8), file: "c.json", kinds: TargetKinds.all)
        let rules = #"{"rules": [{"id": "r", "sources": ["sentry"], "events": ["issue.created"], "do": ["# + steps + "]}]}"
        let set = try RuleParser(config: parsed).parse([.init(path: "r.json", bytes: Array(rules.utf8))])
        return set.rules.flatMap { rule in rule.steps.map { LiveCheckStep(step: $0, file: rule.file) } }
    }

    @Test func theLiveCheckReadsTheProjectOnly() async throws {
        let steps = try Self.liveSteps(#"{"action": "posthog.task.create", "title": "t", "repository": "acme/api"}"#)
        try await withRig { rig in
            #expect(await rig.connector.liveCheck(steps).isEmpty)
            #expect(rig.fake.requests.map { "\($0.method) \($0.path)?\($0.query)" } == ["GET /api/projects/1/tasks/?limit=1"], "read-only")
        }
        try await withRig(token: "phx_revoked") { rig in
            let problems = await rig.connector.liveCheck(steps)
            #expect(problems.map(\.path) == ["targets.ph.token"])
            #expect(problems.first?.message.hasPrefix("PostHog refused the key (401") == true, "\(problems)")
            #expect(problems.first?.message.contains("phx_revoked") == false)
        }
    }

    @Test func configAndRulesAreCheckedWhereTheyAreWritten() throws {
        func problems(_ target: String, rules: String? = nil) -> [String] {
            let config = #"{"sources": {"sentry": {"kind": "sentry", "secrets": [{"env": "S"}]}}, "targets": {"ph": "# + target + "}}"
            do {
                let parsed = try ConfigParser.parse(Array(config.utf8), file: "c.json", kinds: TargetKinds.all)
                if let rules {
                    _ = try RuleParser(config: parsed).parse([.init(path: "r.json", bytes: Array(rules.utf8))])
                }
                return []
            } catch {
                return error.diagnostics.map(\.description)
            }
        }
        let ok = #"{"kind": "posthog", "token": {"env": "T"}, "projectId": 12345}"#
        #expect(problems(ok) == [])
        #expect(problems(#"{"kind": "posthog", "token": {"env": "T"}, "projectId": "12345", "poll": {"initialSeconds": 1, "maxSeconds": 30}}"#) == [])
        #expect(problems(#"{"kind": "posthog", "token": {"env": "T"}, "projectId": {"env": "PH_PROJECT"}}"#) == [])
        #expect(problems(#"{"kind": "posthog", "token": {"env": "T"}}"#) == [#"c.json: targets.ph: missing required key "projectId""#])
        #expect(problems(#"{"kind": "posthog", "token": {"env": "T"}, "projectId": "my-project"}"#)
            == [#"c.json: targets.ph.projectId: expected the numeric project id (the number in PostHog's /project/<id>/ URLs), found "my-project""#])
        #expect(problems(#"{"kind": "posthog", "token": {"env": "T"}, "projectId": 1, "defaultProject": "x"}"#)
            == [#"c.json: targets.ph.defaultProject: unknown key "defaultProject""#])
        func rule(_ steps: String) -> String {
            #"{"rules": [{"id": "r", "sources": ["sentry"], "events": ["issue.created"], "do": ["# + steps + "]}]}"
        }
        #expect(problems(ok, rules: rule(#"""
            {"id": "t", "action": "posthog.task.create", "title": "{{ body.data.issue.title }}", "repository": "acme/shop",
             "github_integration": 101, "link": {"key": "s:{{ body.data.issue.id }}", "ifExists": "skip"}},
            {"id": "run", "action": "posthog.task.run", "mode": "background", "wait": {"until": "finished", "maxMinutes": 45}},
            {"action": "posthog.task.update", "task": {"step": "t"}, "description": "PR: {{ steps.run.pr_url }}"}
            """#)) == [])
        #expect(problems(ok, rules: rule(#"{"action": "posthog.task.run", "task": {"id": "x"}, "wait": {"untill": "finished"}}"#))
            == [#"r.json: rules[0].do[0].wait.untill: unknown key "untill" (did you mean "until"?)"#])
        #expect(problems(ok, rules: rule(#"{"action": "posthog.task.run", "task": {"id": "x"}, "mode": "foreground"}"#))
            == [#"r.json: rules[0].do[0].mode: unknown value "foreground"; expected one of "background", "interactive""#])
        #expect(problems(ok, rules: rule(#"{"action": "task.create", "title": "x"}"#)).first?
            .contains(#""task.create" is not an action of target ph (kind posthog); kinds that have it: groupchat"#) == true)
    }
}

extension PostHogKind {
    static func action(_ name: String) -> ActionSpec {
        PostHogKind().actions.first { $0.name == name } ?? ActionSpec(name, fields: [], needsTask: false)
    }
}
