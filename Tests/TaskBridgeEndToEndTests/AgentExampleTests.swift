import AsyncHTTPClient
import Foundation
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

/// examples/agent-posthog run by the built binary against the strict fakes: a Sentry
/// error becomes a GroupChat task delegated to the "PostHog Coder" agent, which TaskBridge
/// itself runs — PostHog's coding agent opens a pull request, the run completes with the
/// link and cost, and the completion event moves the task to in review. The binary is
/// killed with `kill -9` at several points of the runs; afterwards every run has exactly
/// one PostHog task, one PostHog run, one start and one complete.
@Suite(.serialized) struct AgentExampleTests {
    static let admin = [("Authorization", "Bearer e2e-admin")]

    /// examples/agent-posthog with quick polls (0.3 s for GroupChat and PostHog), plus
    /// `extra` replacements; returns its directory.
    static func example(_ extra: [(String, String)] = []) throws -> String {
        try TargetExampleTests.example("agent-posthog", extra + [
            (#""pollSeconds": 5"#, #""pollSeconds": 0.3"#),
            (#""projectId": { "env": "POSTHOG_PROJECT_ID" }"#,
             #""projectId": { "env": "POSTHOG_PROJECT_ID" }, "poll": {"initialSeconds": 0.3, "maxSeconds": 0.5}"#),
        ])
    }

    /// What the example's config reads, pointed at the fakes.
    static func environment(groupchat: GroupChatFake, posthog: PostHogFake) -> [String: String] {
        ["SENTRY_CLIENT_SECRET": "e2e-sentry", "GROUPCHAT_BASE_URL": groupchat.baseURL, "GROUPCHAT_TOKEN": GroupChatFake.workspaceKey,
         "GROUPCHAT_AGENT_TOKEN": GroupChatFake.coderAgentToken, "POSTHOG_BASE_URL": posthog.baseURL,
         "POSTHOG_API_KEY": PostHogFake.personalKey, "POSTHOG_PROJECT_ID": "1", "TASKBRIDGE_ADMIN_TOKEN": "e2e-admin"]
    }

    @Test func sentryErrorIsWorkedByTheAgentAndSurvivesKill9AtEveryStep() async throws {
        // Answers that come late (the call applies at once): a kill then lands while a
        // start, a PostHog create or a complete is in flight with its effect applied.
        let groupchat = GroupChatFake(chaos: FakeChaos(slow: 1, slowSeconds: 1.5,
                                                       only: ["POST /api/v1/agent/runs/{id}/start", "POST /api/v1/agent/runs/{id}/complete"]))
        let posthog = PostHogFake(chaos: FakeChaos(slow: 1, slowSeconds: 1.5, only: ["POST \(PostHogFake.tasksRoute)"]))
        posthog.mutate { $0.defaultRunScript = .completes(queuedPolls: 3, inProgressPolls: 4) }
        try await groupchat.start()
        try await posthog.start()
        let dir = try Self.example()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = Self.environment(groupchat: groupchat, posthog: posthog)
        try await withHTTPClient { client in
            var server = try BinaryProcess(config: dir + "/taskbridge.json", dataDir: dir + "/data", environment: env)
            var web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            for (n, id) in ["7101", "7102"].enumerated() {
                let body = Fixtures.derived("sentry/issue.created.json", [("data.issue.id", .string(id)), ("data.issue.shortId", .string("API-\(n + 1)"))])
                let (status, _) = try await web.post("/hooks/sentry", headers: Signed.sentry(body, secret: "e2e-sentry", resource: "issue",
                                                                                           requestID: "agent-\(id)"), body: body)
                #expect(status == 202)
            }
            #expect(await eventually(30) { groupchat.agentRuns.count == 2 }, "log:\n\(server.log.suffix(3000))")
            let runs = groupchat.agentRuns.compactMap { $0["id"]?.stringValue }
            @Sendable func any(_ transition: String) -> Bool { runs.contains { groupchat.agentTransitions($0).contains(transition) } }
            // Kill points: a start applied but not yet answered; a PostHog create applied but
            // not yet answered; a PostHog run being followed; a complete applied but not yet answered.
            let points: [(String, @Sendable () -> Bool)] = [
                ("start in flight", { any("start") }),
                ("PostHog create in flight", { (posthog.project()?.allTasks.count ?? 0) >= 1 }),
                ("PostHog run followed", { (posthog.project()?.runs.count ?? 0) >= 1 }),
                ("complete in flight", { any("complete") }),
            ]
            for (name, reached) in points {
                #expect(await eventually(40) { reached() }, "\(name) not reached; log:\n\(server.log.suffix(3000))")
                await server.kill9()
                server = try BinaryProcess(config: dir + "/taskbridge.json", dataDir: dir + "/data", environment: env)
                web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            }
            let finished = await eventually(60) { runs.allSatisfy { groupchat.agentRun($0)?["status"] == "FINISHED" } }
            #expect(finished, "\(runs.map { groupchat.agentTransitions($0) }); log:\n\(server.log.suffix(3000))")
            let completed = try await eventually(30) {
                let (_, list) = try await web.get("/admin/api/runs?state=completed", headers: Self.admin)
                return list["runs"]?.arrayValue?.count == 2
            }
            #expect(completed, "log:\n\(server.log.suffix(3000))")
            let reviewed = await eventually(30) { groupchat.tasks.count == 2 && groupchat.tasks.allSatisfy { $0["stageId"] == "st_review" } }
            #expect(reviewed, "\(groupchat.tasks); log:\n\(server.log.suffix(3000))")

            for run in runs {
                let t = groupchat.agentTransitions(run)
                #expect(t.filter { $0 == "start" }.count == 1, "\(run): \(t)")
                #expect(t.filter { $0 == "complete" }.count == 1, "\(run): \(t)")
                #expect(!t.contains("error"), "\(run): \(t)")
            }
            let project = try #require(posthog.project())
            #expect(project.allTasks.count == 2, "one PostHog task per run, whatever the kills")
            #expect(project.runs.count == 2, "one PostHog run per run")
            #expect(Set(project.allTasks.map(\.repository)) == ["acme/api"])
            for task in groupchat.tasks {
                let description = task["description"]?.stringValue ?? ""
                #expect(description.hasPrefix("Pull request by PostHog's coding agent: https://github.com/acme/api/pull/"), "\(description)")
            }
            // The operator's view: both runs completed, each with its calls.
            let (_, list) = try await web.get("/admin/api/runs?state=completed", headers: Self.admin)
            #expect(list["runs"]?.arrayValue?.count == 2)
            let (_, events) = try await web.get("/admin/api/events?source=agent&type=agent.run.completed", headers: Self.admin)
            #expect(events["events"]?.arrayValue?.count == 2, "one completion event per run, though re-emitted after kills")
            let (rc, output) = try await BinaryProcess.run(["runs", runs[0], "--config", dir + "/taskbridge.json", "--data-dir", dir + "/data"], environment: env)
            #expect(rc == 0)
            #expect(output.contains("completed") && output.contains("POST /api/v1/agent/runs/\(runs[0])/complete"), "\(output)")
            let (arc, agents) = try await BinaryProcess.run(["agents", "--config", dir + "/taskbridge.json", "--data-dir", dir + "/data"], environment: env)
            #expect(arc == 0)
            #expect(agents.contains("posthog-coder") && agents.contains("posthog → posthog") && agents.contains("completed 2"), "\(agents)")
            let (lrc, listed) = try await BinaryProcess.run(["runs", "--state", "completed", "--config", dir + "/taskbridge.json", "--data-dir", dir + "/data"],
                                                      environment: env)
            #expect(lrc == 0 && runs.allSatisfy { listed.contains($0) }, "\(listed)")
            #expect(await server.terminate() == 0)
        }
        await posthog.stop()
        await groupchat.stop()
    }
}
