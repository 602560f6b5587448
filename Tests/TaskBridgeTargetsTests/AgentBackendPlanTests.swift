import Testing
import TaskBridgeCore
@testable import TaskBridgeTargets

/// The backend steps an agent run is worked with, and what their results tell the record.
@Suite("AgentBackendPlan")
struct AgentBackendPlanTests {
    static func posthog(costUsdPerRun: Double? = nil) -> AgentBackendPlan {
        var b = AgentBackendConfig(target: "ph", kind: .posthog)
        b.repository = "acme/api"
        b.originProduct = "groupchat"
        b.costUsdPerRun = costUsdPerRun
        var a = AgentConfig(name: "coder", backend: b)
        a.maxRunMinutes = 90
        return AgentBackendPlan(agent: a)
    }

    static func zylon(project: String? = "support", maxRunMinutes: Double = 30) -> AgentBackendPlan {
        var b = AgentBackendConfig(target: "zy", kind: .zylon)
        b.project = project
        b.usdPerMillionInputTokens = 3
        b.usdPerMillionOutputTokens = 15
        var a = AgentConfig(name: "helper", backend: b)
        a.maxRunMinutes = maxRunMinutes
        return AgentBackendPlan(agent: a)
    }

    static func record(_ kind: String = "posthog", title: String? = "Login broken", prompt: String = "  Fix the login bug \n") -> AgentRunRecord {
        var r = AgentRunRecord(runId: "run-1", agent: "coder", taskId: "task-1", prompt: prompt, backendTarget: kind == "posthog" ? "ph" : "zy",
                               backendKind: kind, discoveredAtMillis: 1_000)
        r.taskTitle = title
        r.taskDescription = "Users cannot log in since Tuesday."
        return r
    }

    static let context = "Fix the login bug\n\n---\n\nGroupChat task: Login broken\n\nUsers cannot log in since Tuesday."

    // MARK: Steps

    @Test func postHogCreatesATaskFromTheRunsTaskAndPrompt() throws {
        let plan = Self.posthog()
        #expect(plan.stepCount == 2)
        let step = try plan.step(0, for: Self.record())
        #expect(step.stepId == "task")
        #expect(step.action.name == "posthog.task.create")
        #expect(step.target == "ph")
        #expect(step.task == nil)
        #expect(step.values == [
            "title": "Login broken", "description": .string(Self.context), "repository": "acme/api", "origin_product": "groupchat",
        ])
    }

    @Test func theTitleFallsBackToThePromptThenToTheTaskIdAndIsCapped() throws {
        let plan = Self.posthog()
        let prompt = String(repeating: "p", count: 100)
        #expect(try plan.step(0, for: Self.record(title: nil, prompt: prompt)).values["title"] == .string(String(repeating: "p", count: 80)))
        #expect(try plan.step(0, for: Self.record(title: " \n ", prompt: "Short ask")).values["title"] == "Short ask")
        #expect(try plan.step(0, for: Self.record(title: nil, prompt: "   ")).values["title"] == "GroupChat task task-1")
        let long = String(repeating: "t", count: 300)
        #expect(try plan.step(0, for: Self.record(title: long)).values["title"] == .string(String(repeating: "t", count: 255)))
    }

    @Test func theContextIsThePromptWithTheTaskAround() {
        let plan = Self.posthog()
        #expect(plan.context(Self.record()) == Self.context)
        var bare = Self.record(title: nil, prompt: "")
        bare.taskDescription = "  "
        #expect(plan.context(bare) == "GroupChat task: task-1", "no prompt, no description: the task alone")
    }

    @Test func postHogThenRunsTheTaskItCreatedAndWaits() throws {
        let plan = Self.posthog()
        var r = Self.record()
        #expect(throws: StepFailure.permanent("the PostHog task to run is not recorded")) { try plan.step(1, for: r) }
        r.backend.taskId = "ph-task-9"
        let step = try plan.step(1, for: r)
        #expect(step.stepId == "run")
        #expect(step.action.name == "posthog.task.run")
        #expect(step.target == "ph")
        #expect(step.task == .id("ph-task-9"))
        #expect(step.values == ["wait": ["until": "finished", "maxMinutes": 90]])
        #expect(throws: StepFailure.permanent("no backend step 2 for a posthog backend")) { try plan.step(2, for: r) }
    }

    @Test func zylonChatsInTheProjectWithThePromptAndTheTask() throws {
        let plan = Self.zylon()
        #expect(plan.stepCount == 1)
        let step = try plan.step(0, for: Self.record("zylon"))
        #expect(step.stepId == "chat")
        #expect(step.action.name == "zylon.chat")
        #expect(step.target == "zy")
        #expect(step.task == nil)
        #expect(step.values == ["message": .string(Self.context), "maxMinutes": 30, "project": "support"])
        // Without a project the target's own applies; the wait is at most a day.
        let noProject = try Self.zylon(project: nil, maxRunMinutes: 5_000).step(0, for: Self.record("zylon"))
        #expect(noProject.values == ["message": .string(Self.context), "maxMinutes": 1_440])
        #expect(throws: StepFailure.permanent("no backend step 1 for a zylon backend")) { try plan.step(1, for: Self.record("zylon")) }
    }

    @Test func idempotencyKeysDifferPerStepAndTurn() {
        var r = Self.record()
        let keys = [AgentBackendPlan.idempotencyKey(r, step: 0), AgentBackendPlan.idempotencyKey(r, step: 1)]
        r.turn = 2
        let next = [AgentBackendPlan.idempotencyKey(r, step: 0), AgentBackendPlan.idempotencyKey(r, step: 1)]
        #expect(keys == ["agent-run:run-1:1000:1:0", "agent-run:run-1:1000:1:1"])
        #expect(next == ["agent-run:run-1:1000:2:0", "agent-run:run-1:1000:2:1"])
        #expect(Set(keys + next).count == 4)
        // A record made again for the same run (retention removed the old one) gets new keys,
        // so an uncertain create never adopts the old run's PostHog task.
        r.turn = 1
        r.discoveredAtMillis = 5_000
        #expect(AgentBackendPlan.idempotencyKey(r, step: 0) == "agent-run:run-1:5000:1:0")
    }

    // MARK: Absorbing results

    static let pollState: JSONValue = [
        "phase": "poll", "task": "ph-task-9", "run": "ph-run-1", "status": "in_progress", "branch": "main",
        "pr_url": "https://github.com/acme/api/pull/1", "summary": ["slug": "ABC-1"],
    ]

    @Test func aPostHogWaitStateRecordsTheTaskRunStatusBranchAndPR() {
        let plan = Self.posthog()
        var r = Self.record()
        plan.absorb(step: 1, output: nil, waitState: Self.pollState, into: &r)
        var expected = AgentRunRecord.Backend()
        expected.taskId = "ph-task-9"
        expected.runId = "ph-run-1"
        expected.status = "in_progress"
        expected.branch = "main"
        expected.prURL = "https://github.com/acme/api/pull/1"
        expected.taskSlug = "ABC-1"
        #expect(r.backend == expected)
    }

    @Test func aPostHogWaitStateNeverReplacesTheCreatedTaskOrClearsWhatIsKnown() {
        let plan = Self.posthog()
        var r = Self.record()
        plan.absorb(step: 0, output: ["task": ["id": "ph-task-9", "number": 9, "slug": "ABC-9", "title": "Login broken"]], waitState: nil, into: &r)
        #expect(r.backend.taskId == "ph-task-9")
        #expect(r.backend.taskSlug == "ABC-9")
        plan.absorb(step: 1, output: nil, waitState: ["phase": "start", "task": "other", "before": nil], into: &r)
        #expect(r.backend.taskId == "ph-task-9")
        #expect(r.backend.runId == nil)
        plan.absorb(step: 1, output: nil, waitState: Self.pollState, into: &r)
        plan.absorb(step: 1, output: nil, waitState: ["phase": "poll", "task": "ph-task-9", "run": "ph-run-1", "status": "in_progress",
                                                      "branch": "", "pr_url": nil], into: &r)
        #expect(r.backend.branch == "main")
        #expect(r.backend.prURL == "https://github.com/acme/api/pull/1")
    }

    @Test func aFinishedPostHogRunsOutputIsRecorded() {
        let plan = Self.posthog()
        var r = Self.record()
        plan.absorb(step: 1, output: [
            "task": ["id": "ph-task-9", "slug": "ABC-9"], "run": ["id": "ph-run-1", "status": "completed"], "status": "completed",
            "branch": "fix/login", "pr_url": "https://github.com/acme/api/pull/2",
        ], waitState: nil, into: &r)
        #expect(r.backend.taskId == "ph-task-9")
        #expect(r.backend.taskSlug == "ABC-9")
        #expect(r.backend.runId == "ph-run-1")
        #expect(r.backend.status == "completed")
        #expect(r.backend.branch == "fix/login")
        #expect(r.backend.prURL == "https://github.com/acme/api/pull/2")
        #expect(r.backend.answer == nil)
    }

    @Test func whatElsePostHogsRunReportedReachesTheCompletion() {
        var r = Self.record()
        let output: JSONValue = [
            "task": ["id": "ph-1", "slug": "DEF-3"], "run": ["id": "run-9", "status": "completed"],
            "pr_url": "https://github.com/acme/api/pull/3",
            "output": ["pr_url": "https://github.com/acme/api/pull/3", "commit_sha": "abc123", "files_changed": 2, "draft": false,
                       "empty": "", "nested": ["ignored": true]],
        ]
        Self.posthog().absorb(step: 1, output: output, waitState: nil, into: &r)
        #expect(r.backend.reported == ["commit_sha: abc123", "draft: false", "files_changed: 2"])
        #expect(AgentRunMachine.completionBody(r) == """
            Done. PostHog's coding agent opened a pull request: https://github.com/acme/api/pull/3

            PostHog task DEF-3.

            PostHog reported:
            - commit_sha: abc123
            - draft: false
            - files_changed: 2
            """)
        // The record keeps it across a restart.
        #expect(AgentRunRecord(json: r.json)?.backend.reported == r.backend.reported)
    }

    @Test func zylonsAnswerAndTokenUsageAreRecorded() {
        let plan = Self.zylon()
        var r = Self.record("zylon")
        plan.absorb(step: 0, output: nil, waitState: ["interaction": "int-1", "project": "support", "startedAt": 1_700_000_000, "polls": 0], into: &r)
        #expect(r.backend.status == "Processing")
        #expect(r.backend.taskId == nil)
        plan.absorb(step: 0, output: [
            "text": "Restart the auth worker.", "state": "Completed", "interaction": "int-1", "project": "support",
            "usage": ["input_tokens": 2_000_000, "output_tokens": 1_000_000],
        ], waitState: nil, into: &r)
        #expect(r.backend.answer == "Restart the auth worker.")
        #expect(r.backend.status == "Completed")
        #expect(r.backend.inputTokens == 2_000_000)
        #expect(r.backend.outputTokens == 1_000_000)
        #expect(plan.cost(r) == 21, "2 M in at $3, 1 M out at $15")
    }

    @Test func aZylonAnswerWithoutUsageHasNoCost() {
        let plan = Self.zylon()
        var r = Self.record("zylon")
        plan.absorb(step: 0, output: ["text": "ok", "state": "Completed", "usage": nil], waitState: nil, into: &r)
        #expect(r.backend.answer == "ok")
        #expect(r.backend.inputTokens == nil)
        #expect(plan.cost(r) == nil)
    }

    @Test func postHogCostsItsFlatPricePerRun() {
        var r = Self.record()
        r.backend.inputTokens = 1_000_000
        #expect(Self.posthog().cost(r) == nil, "no price set")
        #expect(Self.posthog(costUsdPerRun: 2.5).cost(r) == 2.5)
    }
}
