import Foundation
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeStore
import TaskBridgeTestSupport

/// TaskBridge as a GroupChat agent, against the strict fakes of the Agent API, PostHog and
/// Zylon: runs delegated in GroupChat are picked up, started, worked on the backend and
/// completed (or failed) exactly once, and their transitions are events rules match.
/// Serialized: each test runs a bridge, three fakes and agents polling fast; run side by
/// side they would starve the rest of the suite on two cores.
@Suite(.serialized) struct AgentRunTests {
    static let env = TestEnv.values.merging([
        "TEST_PH_TOKEN": PostHogFake.personalKey, "TEST_ZYLON_TOKEN": ZylonFake.token,
        "TEST_CODER_TOKEN": GroupChatFake.coderAgentToken, "TEST_TRIAGE_TOKEN": GroupChatFake.triageAgentToken,
    ]) { $1 }

    /// The GroupChat fake plays both the workspace (rules' target) and the agents' API.
    static func config(posthog: String, zylon: String, coder: String = "", answerer: String = "") -> String {
        """
        {
          "sources": {"sentry": {"kind": "sentry", "secrets": [{"env": "TEST_SENTRY_SECRET"}]}},
          "targets": {
            "groupchat": {"kind": "groupchat", "baseURL": "{{FAKE}}", "token": {"env": "TEST_GC_TOKEN"}, "defaultProject": "Engineering",
                          "retry": {"initialDelaySeconds": 0.02, "maxDelaySeconds": 0.2}},
            "posthog": {"kind": "posthog", "baseURL": "\(posthog)", "token": {"env": "TEST_PH_TOKEN"}, "projectId": 1, "timeoutSeconds": 5,
                        "poll": {"initialSeconds": 0.1, "maxSeconds": 0.3}, "retry": {"initialDelaySeconds": 0.02, "maxDelaySeconds": 0.2}},
            "zylon": {"kind": "zylon", "baseURL": "\(zylon)", "token": {"env": "TEST_ZYLON_TOKEN"}, "org": "default",
                      "project": "proj_feedback", "timeoutSeconds": 5, "retry": {"initialDelaySeconds": 0.02, "maxDelaySeconds": 0.2}}
          },
          "agents": {
            "coder": {"token": {"env": "TEST_CODER_TOKEN"}, "baseURL": "{{FAKE}}", "pollSeconds": 0.2, "timeoutSeconds": 3,
                      "backend": {"target": "posthog", "repository": "acme/api", "costUsdPerRun": 0.5}\(coder)},
            "answerer": {"token": {"env": "TEST_TRIAGE_TOKEN"}, "baseURL": "{{FAKE}}", "pollSeconds": 0.2, "timeoutSeconds": 3,
                         "backend": {"target": "zylon", "usdPerMillionInputTokens": 3, "usdPerMillionOutputTokens": 15}\(answerer)}
          },
          "delivery": {"pollIntervalSeconds": 0.05, "shutdownGraceSeconds": 2},
          "admin": {"token": {"env": "TEST_ADMIN_TOKEN"}},
          "rules": ["rules/*.json"]
        }
        """
    }

    /// A run that completes with a pull request moves its task to "In review".
    static let reviewRule = #"""
    {"rules": [{
      "id": "pr-to-review", "sources": "agent", "events": "agent.run.completed", "target": "groupchat",
      "when": {"path": "body.pr_url", "exists": true},
      "do": [{"action": "task.move", "task": {"id": "{{ body.task.id }}"}, "stage": "In review"}]
    }]}
    """#

    struct World: Sendable {
        let bridge: Bridge
        let groupchat: GroupChatFake
        let posthog: PostHogFake
        let zylon: ZylonFake

        /// A task in the Engineering project, delegated to `agent`: its PENDING run's id.
        func delegate(_ title: String, to agent: String = "agent-coder01", prompt: String = "Please fix this") throws -> String {
            var taskId = ""
            groupchat.mutate { w in
                taskId = (try? w.createTask(["projectId": "proj_eng", "title": .string(title), "description": "Users see a 500 on /login"],
                                            creator: "user_ada"))?["id"]?.stringValue ?? ""
            }
            try #require(!taskId.isEmpty)
            return groupchat.addAgentRun(agentUserId: agent, taskId: taskId, prompt: prompt)
        }

        func status(_ run: String) -> String? { groupchat.agentRun(run)?["status"]?.stringValue }
        func transitions(_ run: String) -> [String] { groupchat.agentTransitions(run) }
        func record(_ run: String) async throws -> AgentRunRecord? { try await bridge.store.agentRun(id: run) }

        func admin(_ path: String) async throws -> JSONValue {
            let r = try await bridge.get("/admin/api/" + path, [("Authorization", "Bearer \(TestEnv.adminToken)")])
            return (try? JSONParser.parse(Array(r.text.utf8))) ?? .null
        }
    }

    func withAgents(coder: String = "", answerer: String = "", rules: [String: String] = ["review.json": Self.reviewRule],
                    directory: String? = nil, posthog: PostHogFake = PostHogFake(), groupchat: GroupChatFake = GroupChatFake(),
                    _ body: @Sendable (World) async throws -> Void) async throws {
        let zylon = ZylonFake()
        try await zylon.start()
        if posthog.port == 0 { try await posthog.start() }
        do {
            try await withBridge(config: Self.config(posthog: posthog.baseURL, zylon: zylon.baseURL, coder: coder, answerer: answerer),
                                 ruleFiles: rules, env: Self.env, fake: groupchat, dispatcher: true, directory: directory) { bridge in
                try await body(World(bridge: bridge, groupchat: groupchat, posthog: posthog, zylon: zylon))
            }
        } catch {
            await zylon.stop()
            await posthog.stop()
            throw error
        }
        await zylon.stop()
        await posthog.stop()
    }

    @Test func aDelegatedRunIsWorkedOnPostHogAndCompletedWithThePullRequest() async throws {
        try await withAgents { w in
            w.posthog.mutate { $0.nextRunScripts = [.completes(queuedPolls: 2, inProgressPolls: 2)] }
            let run = try w.delegate("Login crashes")
            #expect(await eventually { w.status(run) == "FINISHED" })
            #expect(w.transitions(run).first == "start")
            #expect(w.transitions(run).last == "complete")
            #expect(w.transitions(run).filter { $0 == "start" || $0 == "complete" || $0 == "error" }.count == 2)
            #expect(w.transitions(run).filter { $0 == "comment" }.count == 2, "working, then the PR: \(w.transitions(run))")
            let project = try #require(w.posthog.project())
            #expect(project.allTasks.count == 1)
            let task = try #require(project.allTasks.first)
            #expect(task.title == "Login crashes")
            #expect(task.repository == "acme/api")
            #expect(task.description.hasPrefix("Please fix this\n\n---\n\nGroupChat task: Login crashes\n\nUsers see a 500 on /login"))
            #expect(project.runs(ofTask: task.id).count == 1)
            let detail = try #require(w.groupchat.agentRun(run))
            let bodies = (detail["activity"]?.arrayValue ?? []).compactMap { $0["body"]?.stringValue }
            #expect(bodies.contains { $0.hasPrefix("Pull request opened: https://github.com/acme/api/pull/1") }, "\(bodies)")
            #expect(bodies.last?.hasPrefix("Done. PostHog's coding agent opened a pull request: https://github.com/acme/api/pull/1") == true)
            #expect(detail["totalCostUsd"] == 0.5)
            // GroupChat applies /complete before TaskBridge hears back and saves the run.
            #expect(try await eventually { try await w.record(run)?.phase == .done })
            let record = try #require(try await w.record(run))
            #expect(record.outcome == .completed)
            #expect(record.backend.prURL == "https://github.com/acme/api/pull/1")
            // The completion is an event; the rule moves the task to In review.
            let taskId = record.taskId
            #expect(await eventually { w.groupchat.workspace.task(taskId)?["stageId"] == "st_review" })
            let events = try await w.bridge.store.listEvents(EventFilter(source: "agent", limit: 10))
            #expect(Set(events.map(\.type)) == ["agent.run.started", "agent.run.completed"])
        }
    }

    @Test func aZylonAgentAnswersWithTheChatsTextAndItsCost() async throws {
        try await withAgents { w in
            let run = try w.delegate("What changed in the billing export?", to: "agent-triage01", prompt: "Summarise the change")
            #expect(await eventually { w.status(run) == "FINISHED" })
            #expect(w.transitions(run).filter { $0 != "comment" } == ["start", "complete"])
            let interactions = w.zylon.interactions
            #expect(interactions.count == 1, "one chat for one run")
            let record = try #require(try await w.record(run))
            let answer = try #require(record.backend.answer)
            #expect(!answer.isEmpty)
            let bodies = (w.groupchat.agentRun(run)?["activity"]?.arrayValue ?? []).compactMap { $0["body"]?.stringValue }
            #expect(bodies.last == answer)
            let input = try #require(record.backend.inputTokens), output = try #require(record.backend.outputTokens)
            #expect(record.costUsd == (input * 3 + output * 15) / 1_000_000, "\(record.backend) \(String(describing: record.costUsd)) \(record.phase)")
            #expect(w.posthog.project()?.allTasks.isEmpty == true)
        }
    }

    @Test func aFailedBackendRunIsReportedWithError() async throws {
        try await withAgents { w in
            w.posthog.mutate { $0.nextRunScripts = [.fails("Agent could not reproduce the error")] }
            let run = try w.delegate("Flaky test")
            #expect(await eventually { w.status(run) == "ERROR" })
            #expect(w.transitions(run).filter { $0 != "comment" } == ["start", "error"])
            let bodies = (w.groupchat.agentRun(run)?["activity"]?.arrayValue ?? []).compactMap { $0["body"]?.stringValue }
            #expect(bodies.last?.hasSuffix("failed: Agent could not reproduce the error") == true, "\(bodies)")
            #expect(try await eventually { try await w.bridge.store.listEvents(EventFilter(source: "agent", type: "agent.run.failed", limit: 5)).count == 1 })
            #expect(try await w.record(run)?.outcome == .failed)
        }
    }

    @Test func aRunPastMaxRunMinutesFails() async throws {
        try await withAgents(coder: #", "maxRunMinutes": 0.05"#) { w in
            w.posthog.mutate { $0.nextRunScripts = [.stuckQueued] }
            let run = try w.delegate("Slow one")
            #expect(await eventually { w.status(run) == "ERROR" })
            let bodies = (w.groupchat.agentRun(run)?["activity"]?.arrayValue ?? []).compactMap { $0["body"]?.stringValue }
            #expect(bodies.last?.contains("longer than 0.05 minutes (maxRunMinutes)") == true, "\(bodies)")
            // Under load the 3 s can pass before the PostHog run is even made; never more than one.
            #expect((w.posthog.project()?.runs.count ?? 0) <= 1)
        }
    }

    @Test func aRunTheUserStopsIsNoLongerFollowed() async throws {
        try await withAgents { w in
            w.posthog.mutate { $0.nextRunScripts = [.completes(queuedPolls: 1, inProgressPolls: 10_000)] }
            let run = try w.delegate("Stop me")
            #expect(try await eventually { try await w.record(run)?.backend.runId != nil })
            #expect(w.groupchat.stopAgentRun(run))
            #expect(try await eventually { try await w.record(run)?.outcome == .stopped })
            let polls = w.posthog.requests.count
            try await Task.sleep(nanoseconds: 1_000_000_000)
            #expect(w.posthog.requests.count == polls, "no more polling of a stopped run")
            #expect(!w.transitions(run).contains("complete") && !w.transitions(run).contains("error"), "\(w.transitions(run))")
        }
    }

    @Test func a409OnStartIsReconciledNotRetried() async throws {
        // The start waits before applying; meanwhile the user stops the run, so it answers 409.
        let groupchat = GroupChatFake(chaos: FakeChaos(slow: 1, slowSeconds: 1, slowBeforeApplying: true,
                                                       only: ["POST /api/v1/agent/runs/{id}/start"]))
        try await withAgents(groupchat: groupchat) { w in
            let run = try w.delegate("Changed my mind")
            #expect(try await eventually { try await w.record(run)?.intent == "start" })
            #expect(w.groupchat.stopAgentRun(run))
            #expect(try await eventually { try await w.record(run)?.outcome == .stopped })
            #expect(w.groupchat.requests.filter { $0.route == "POST /api/v1/agent/runs/{id}/start" || $0.path.hasSuffix("/start") }.count == 1)
            #expect(w.posthog.project()?.allTasks.isEmpty == true, "no backend work for a run that never started")
        }
    }

    @Test func upstreamChaosOnEveryAPIStillGivesExactlyOneOfEverything() async throws {
        let chaos = FakeChaos(serverError: 0.1, rateLimited: 0.05, retryAfterSeconds: 0, reset: 0.05, acceptedThenReset: 0.1)
        let groupchat = GroupChatFake(chaos: chaos, seed: 7)
        let posthog = PostHogFake(chaos: chaos)
        try await withAgents(coder: #", "concurrency": 2"#, posthog: posthog, groupchat: groupchat) { w in
            w.posthog.mutate { $0.nextRunScripts = Array(repeating: .completes(queuedPolls: 1, inProgressPolls: 1), count: 3) }
            var runs: [String] = []
            for i in 1...3 { runs.append(try w.delegate("Chaos \(i)")) }
            #expect(await eventually(60) { runs.allSatisfy { w.status($0) == "FINISHED" } }, "\(runs.map { w.status($0) ?? "?" })")
            for run in runs {
                let t = w.transitions(run)
                #expect(t.filter { $0 == "start" }.count == 1, "\(run): \(t)")
                #expect(t.filter { $0 == "complete" || $0 == "error" }.count == 1, "\(run): \(t)")
                #expect(t.filter { $0 == "comment" }.count <= 2, "\(run): \(t)")
            }
            let project = try #require(w.posthog.project())
            #expect(project.allTasks.count == 3, "one PostHog task per run")
            #expect(project.runs.count == 3, "one PostHog run per run")
        }
    }

    @Test func aZylonAgentRidesOutFlakyPollsAndNeverSendsAChatTwice() async throws {
        let groupchat = GroupChatFake(chaos: FakeChaos(serverError: 0.15, acceptedThenReset: 0.1), seed: 11)
        try await withAgents(groupchat: groupchat) { w in
            // Zylon polls back off (2 s, 3 s, 4.5 s, 6.75 s, …, failed ones too): the answer is
            // ready from the first poll, so a few failed polls still end in seconds.
            w.zylon.script(.answer("Billing is slow because the export job holds a lock.", after: 1))
            w.zylon.setChaos(FakeChaos(serverError: 0.3, rateLimited: 0.1, retryAfterSeconds: 0, only: ["GET /api/v1/app/interaction/{id}"]))
            let run = try w.delegate("Why is billing slow?", to: "agent-triage01", prompt: "Explain")
            #expect(await eventually(60) { w.status(run) == "FINISHED" }, "\(w.transitions(run)) \(w.zylon.requests.map { "\($0.method) \($0.path) \($0.status ?? 0)" })")
            #expect(w.transitions(run).filter { $0 == "start" }.count == 1)
            #expect(w.transitions(run).filter { $0 == "complete" || $0 == "error" }.count == 1)
            #expect(w.zylon.interactions.count == 1)
            // A chat whose answer is lost may have run: it is not sent again, and the run fails saying so.
            w.zylon.setChaos(FakeChaos(acceptedThenReset: 1, only: ["POST /api/v1/app/project/{id}/chat"]))
            let lost = try w.delegate("Lost answer", to: "agent-triage01")
            #expect(await eventually(40) { w.status(lost) == "ERROR" })
            #expect(w.zylon.interactions.count == 2, "one chat per run, never a second")
            let bodies = (w.groupchat.agentRun(lost)?["activity"]?.arrayValue ?? []).compactMap { $0["body"]?.stringValue }
            #expect(bodies.last?.contains("the chat may have run, so it is not sent again") == true, "\(bodies)")
        }
    }

    @Test func aShutdownDuringAZylonChatLetsTheChatFinishAndTheRunResumesAfterRestart() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-agent-restart-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let groupchat = GroupChatFake(), posthog = PostHogFake(), zylon = ZylonFake()
        try await groupchat.start()
        try await posthog.start()
        try await zylon.start()
        // The chat applies at once and answers 1.5 s later: shutdown starts in between.
        zylon.setChaos(FakeChaos(slow: 1, slowSeconds: 1.5, only: ["POST /api/v1/app/project/{id}/chat"]))
        let config = Self.config(posthog: posthog.baseURL, zylon: zylon.baseURL)
        let run = Locked("")
        try await withBridge(config: config, env: Self.env, fake: groupchat, dispatcher: true, directory: dir) { bridge in
            let w = World(bridge: bridge, groupchat: groupchat, posthog: posthog, zylon: zylon)
            let id = try w.delegate("Restart me", to: "agent-triage01")
            run.withLock { $0 = id }
            #expect(await eventually { zylon.interactions.count == 1 })
        }
        zylon.setChaos(.none)
        let id = run.withLock { $0 }
        try await groupchat.start()  // withBridge stopped it; same runs, a new port
        try await withBridge(config: config, env: Self.env, fake: groupchat, dispatcher: true, directory: dir) { bridge in
            #expect(await eventually { groupchat.agentRun(id)?["status"] == "FINISHED" }, "\(groupchat.agentTransitions(id))")
            #expect(zylon.interactions.count == 1, "the chat was not sent again")
            let saved = try await bridge.store.agentRun(id: id)
            #expect(saved?.backend.answer?.isEmpty == false, "\(String(describing: saved))")
        }
        await zylon.stop()
        await posthog.stop()
    }

    @Test func concurrencyKeepsExtraRunsPendingAndABudgetCapFailsRunsWithoutTheBackend() async throws {
        try await withAgents(coder: #", "concurrency": 1, "maxCostUsdPerDay": 0.5"#) { w in
            w.posthog.mutate { $0.nextRunScripts = [.completes(queuedPolls: 3, inProgressPolls: 3)] }
            let first = try w.delegate("First")
            #expect(await eventually { w.status(first) == "RUNNING" })
            let second = try w.delegate("Second")
            try await Task.sleep(nanoseconds: 600_000_000)
            #expect(w.status(first) == "RUNNING" && w.status(second) == "PENDING", "one at a time")
            #expect(await eventually { w.status(first) == "FINISHED" })
            #expect(await eventually { w.status(second) == "ERROR" })
            let bodies = (w.groupchat.agentRun(second)?["activity"]?.arrayValue ?? []).compactMap { $0["body"]?.stringValue }
            #expect(bodies.last?.contains("daily budget (maxCostUsdPerDay $0.5) is spent: $0.5 in the last 24 hours") == true, "\(bodies)")
            #expect(w.posthog.project()?.allTasks.count == 1, "the second run never reached PostHog")
        }
    }

    @Test func aRunAnsweredAfterItFinishedIsWorkedAgainAsANewTurn() async throws {
        try await withAgents { w in
            w.posthog.mutate { $0.nextRunScripts = [.completes(), .completes()] }
            let run = try w.delegate("Two turns")
            #expect(await eventually { w.status(run) == "FINISHED" })
            #expect(w.groupchat.requeueAgentRun(run, message: "Also fix the logout page"))
            #expect(try await eventually { try await w.record(run)?.turn == 2 && w.status(run) == "FINISHED" })
            #expect(w.transitions(run).filter { $0 == "start" }.count == 2)
            #expect(w.transitions(run).filter { $0 == "complete" }.count == 2)
            #expect(w.posthog.project()?.allTasks.count == 2, "a new backend task for the new turn")
            #expect(w.groupchat.agentRun(run)?["totalCostUsd"] == 1, "each turn reports its own cost; GroupChat adds them up")
            #expect(try await w.record(run)?.totalCostUsd == 1)
            #expect(try await eventually {
                try await w.bridge.store.listEvents(EventFilter(source: "agent", type: "agent.run.completed", limit: 5)).count == 2
            }, "one completion event per turn")
        }
    }

    @Test func theAdminAPIShowsAgentsRunsAndEveryCall() async throws {
        try await withAgents { w in
            let run = try w.delegate("Inspect me")
            #expect(try await eventually { try await w.record(run)?.outcome == .completed })
            let agents = try await w.admin("agents")
            let coder = try #require(agents["agents"]?.arrayValue?.first { $0["name"] == "coder" })
            #expect(coder["identity"]?["agentUserId"] == "agent-coder01")
            #expect(coder["identity"]?["ownerName"] == "Ada Lovelace")
            #expect(coder["runs"]?["completed"] == 1)
            let runs = try await w.admin("runs?agent=coder&state=completed")
            #expect(runs["runs"]?.arrayValue?.map { $0["id"] } == [.string(run)])
            let detail = try await w.admin("runs/" + run)
            let requests = (detail["calls"]?.arrayValue ?? []).compactMap { $0["request"]?.stringValue }
            #expect(requests.contains { $0.hasPrefix("POST /api/v1/agent/runs/\(run)/start") })
            #expect(requests.contains { $0.hasPrefix("POST /api/projects/1/tasks/") })
            #expect(requests.contains { $0.hasPrefix("POST /api/v1/agent/runs/\(run)/complete") })
            #expect(!detail.textValue.contains(GroupChatFake.coderAgentToken), "no token in the API")
            let bad = try await w.bridge.get("/admin/api/runs?state=nope", [("Authorization", "Bearer \(TestEnv.adminToken)")])
            #expect(bad.status.code == 400)
            let metrics = try await w.bridge.get("/metrics").text
            #expect(metrics.contains("taskbridge_agent_run_pickup_seconds_count{agent=\"coder\"} 1"), "\(metrics.split(separator: "\n").filter { $0.contains("agent") })")
            #expect(metrics.contains("taskbridge_agent_runs_finished_total{agent=\"coder\",outcome=\"completed\"} 1"))
        }
    }

    @Test func aRefusedAgentTokenIsAClearProblemNotACrash() async throws {
        let env = Self.env.merging(["TEST_CODER_TOKEN": "gca_not_a_real_token"]) { $1 }
        try await withBridgeUsing(env: env) { w in
            #expect(try await eventually {
                let agents = try await w.admin("agents")
                let coder = agents["agents"]?.arrayValue?.first { $0["name"] == "coder" }
                return coder?["problem"]?.stringValue?.contains("GroupChat refused the agent token (401)") == true
            })
            let run = try w.delegate("Nobody picks me up")
            try await Task.sleep(nanoseconds: 2_500_000_000)
            #expect(w.status(run) == "PENDING")
            // Retries held back by the pause still name the refusal, not a vaguer error.
            let agents = try await w.admin("agents")
            let problem = agents["agents"]?.arrayValue?.first { $0["name"] == "coder" }?["problem"]?.stringValue ?? ""
            #expect(problem.hasPrefix("agent coder: GroupChat refused the agent token (401)"), "\(problem)")
        }
    }

    @Test func aNewAgentTokenLoadedOnReloadIsUsedAtOnce() async throws {
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("tb-agent-token-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        try "gca_revoked_token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let zylon = ZylonFake(), posthog = PostHogFake(), groupchat = GroupChatFake()
        try await zylon.start()
        try await posthog.start()
        let config = Self.config(posthog: posthog.baseURL, zylon: zylon.baseURL)
            .replacingOccurrences(of: #""token": {"env": "TEST_CODER_TOKEN"}"#, with: #""token": {"file": "\#(tokenFile)"}"#)
        try await withBridge(config: config, env: Self.env, fake: groupchat, dispatcher: true) { bridge in
            let w = World(bridge: bridge, groupchat: groupchat, posthog: posthog, zylon: zylon)
            #expect(await eventually { groupchat.requests.contains { $0.path == "/api/v1/agent/me" && $0.status == 401 } })
            let run = try w.delegate("After the rotation")
            // The operator rotates the token file and reloads (SIGHUP): the agent starts working.
            try GroupChatFake.coderAgentToken.write(toFile: tokenFile, atomically: true, encoding: .utf8)
            await RuleReloader(runtime: bridge.runtime).reload(reason: "test")
            #expect(await eventually(10) { w.status(run) == "FINISHED" }, "\(w.transitions(run))")
        }
        await zylon.stop()
        await posthog.stop()
    }

    func withBridgeUsing(env: [String: String], _ body: @Sendable (World) async throws -> Void) async throws {
        let zylon = ZylonFake(), posthog = PostHogFake(), groupchat = GroupChatFake()
        try await zylon.start()
        try await posthog.start()
        try await withBridge(config: Self.config(posthog: posthog.baseURL, zylon: zylon.baseURL), env: env, fake: groupchat, dispatcher: true) { bridge in
            try await body(World(bridge: bridge, groupchat: groupchat, posthog: posthog, zylon: zylon))
        }
        await zylon.stop()
        await posthog.stop()
    }
}
