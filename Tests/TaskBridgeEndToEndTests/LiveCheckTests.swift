import Foundation
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

/// `taskbridge check --live` against the fake workspace: the shipped example rules
/// resolve; a typo in a stage, an unknown member and a bad token are each reported at
/// their place, and the command exits 1.
@Suite(.serialized) struct LiveCheckTests {
    /// The e2e workspace's 2 s request timeout is for delivery tests; a live check's reads
    /// of the in-process fake may wait longer while every suite starts at once.
    static func patientTimeouts(_ ws: Workspace) throws {
        let text = try String(contentsOfFile: ws.configPath, encoding: .utf8)
        try text.replacingOccurrences(of: #""timeoutSeconds": 2,"#, with: #""timeoutSeconds": 20,"#)
            .write(toFile: ws.configPath, atomically: true, encoding: .utf8)
    }

    @Test func liveCheckResolvesEveryLiteralName() async throws {
        let fake = GroupChatFake()
        try await fake.start()
        let ws = try Workspace(fakeURL: fake.baseURL)
        defer { ws.remove() }
        try Self.patientTimeouts(ws)
        let (ok, okOut) = try await BinaryProcess.run(["check", "--live", "--config", ws.configPath], environment: Workspace.environment)
        #expect(ok == 0, "\(okOut)")
        #expect(okOut.contains("every literal name resolves"))
        #expect(!fake.requests.contains { $0.method != "GET" }, "the live check is read-only")

        let rules = ws.directory + "/rules/typo.json"
        try #"""
        {"rules": [{"id": "typo", "sources": ["sentry"], "events": ["issue.created"], "do": [
          {"action": "task.create", "project": "Engineering", "stage": "Reviw", "title": "t", "owner": "Alan Turing"},
          {"action": "task.move", "project": "Website", "stage": "{{ body.action }}"}
        ]}]}
        """#.write(toFile: rules, atomically: true, encoding: .utf8)
        let typo = try Workspace(fakeURL: fake.baseURL, rules: [rules])
        defer { typo.remove() }
        try Self.patientTimeouts(typo)
        let (bad, out) = try await BinaryProcess.run(["check", "--live", "--config", typo.configPath], environment: Workspace.environment)
        #expect(bad == 1)
        #expect(out.contains(#"\#(rules): rules[0].do[0].stage: stage "Reviw" not found in project Engineering (has: To do (todo), Doing (doing), In review (in_review), Done (done))"#), "\(out)")
        #expect(out.contains(#"\#(rules): rules[0].do[0].owner: member "Alan Turing" not found (has: Ada Lovelace, Grace Hopper)"#), "\(out)")
        #expect(!out.contains("do[1].stage"), "a templated stage cannot be checked before an event")

        var env = Workspace.environment
        env["E2E_GC_TOKEN"] = "gck_revoked"
        let (denied, deniedOut) = try await BinaryProcess.run(["check", "--live", "--config", ws.configPath], environment: env)
        #expect(denied == 1)
        #expect(deniedOut.contains("targets.groupchat: cannot read the workspace: GET /api/v1/projects answered 401"), "\(deniedOut)")
        #expect(!deniedOut.contains("gck_revoked"))
        await fake.stop()
    }

    /// The agent example's token is asked `GET /api/v1/agent/me`; a refused one is reported
    /// at the agent, without the token, and the command exits 1.
    @Test func liveCheckAsksGroupChatWhoTheAgentIs() async throws {
        let groupchat = GroupChatFake()
        let posthog = PostHogFake()
        try await groupchat.start()
        try await posthog.start()
        let config = Fixtures.repositoryRoot + "/examples/agent-posthog/taskbridge.json"
        var env = ["GROUPCHAT_BASE_URL": groupchat.baseURL, "GROUPCHAT_TOKEN": GroupChatFake.workspaceKey,
                   "GROUPCHAT_AGENT_TOKEN": GroupChatFake.coderAgentToken, "POSTHOG_BASE_URL": posthog.baseURL,
                   "POSTHOG_API_KEY": PostHogFake.personalKey, "POSTHOG_PROJECT_ID": "1"]
        let (ok, okOut) = try await BinaryProcess.run(["check", "--live", "--config", config], environment: env)
        #expect(ok == 0, "\(okOut)")
        #expect(okOut.contains("every agent token works"), "\(okOut)")
        #expect(groupchat.requests.contains { $0.path == "/api/v1/agent/me" && $0.status == 200 })
        env["GROUPCHAT_AGENT_TOKEN"] = "gca_revoked_token"
        let (bad, badOut) = try await BinaryProcess.run(["check", "--live", "--config", config], environment: env)
        #expect(bad == 1)
        #expect(badOut.contains("agents.posthog-coder: GroupChat refused the agent token (401 on GET /api/v1/agent/me)"), "\(badOut)")
        #expect(!badOut.contains("gca_revoked_token"))
        env["GROUPCHAT_AGENT_TOKEN"] = nil
        let (missing, missingOut) = try await BinaryProcess.run(["check", "--live", "--config", config], environment: env)
        #expect(missing == 1)
        #expect(missingOut.contains("agents.posthog-coder: no agent token: environment variable GROUPCHAT_AGENT_TOKEN is not set"), "\(missingOut)")
        await groupchat.stop()
        await posthog.stop()
    }

    /// The Zylon example's default project exists and the token's user is a member; a
    /// project the user is not in, or one that does not exist, is reported at the target.
    @Test func liveCheckAsksZylonForTheProjectsItWillChatIn() async throws {
        let groupchat = GroupChatFake()
        let zylon = ZylonFake()
        try await groupchat.start()
        try await zylon.start()
        let example = Fixtures.repositoryRoot + "/examples/feedback-summary"
        let env = ["GROUPCHAT_BASE_URL": groupchat.baseURL, "GROUPCHAT_TOKEN": GroupChatFake.workspaceKey,
                   "ZYLON_BASE_URL": zylon.baseURL, "ZYLON_TOKEN": ZylonFake.token, "ZYLON_ORG": ZylonFake.orgSlug]
        let (ok, okOut) = try await BinaryProcess.run(["check", "--live", "--config", example + "/taskbridge.json"], environment: env)
        #expect(ok == 0, "\(okOut)")
        #expect(zylon.requests.contains { $0.path == "/api/v1/app/project/proj_feedback" })
        #expect(zylon.interactions.isEmpty, "the live check is read-only: no chat")

        for (project, expected) in [("proj_finance", #"project "proj_finance": the token's user is not a member"#),
                                    ("proj_nope", #"project "proj_nope" not found in the organisation"#)] {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-live-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let config = try String(contentsOfFile: example + "/taskbridge.json", encoding: .utf8)
                .replacingOccurrences(of: #""project": "proj_feedback""#, with: #""project": "\#(project)""#)
            try config.write(toFile: dir + "/taskbridge.json", atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(atPath: example + "/rules.json", toPath: dir + "/rules.json")
            let (code, out) = try await BinaryProcess.run(["check", "--live", "--config", dir + "/taskbridge.json"], environment: env)
            #expect(code == 1)
            #expect(out.contains("rules.json: rules[0].do[0]: " + expected), "\(out)")
        }
        var badToken = env
        badToken["ZYLON_TOKEN"] = "zyl_wrong"
        let (denied, deniedOut) = try await BinaryProcess.run(["check", "--live", "--config", example + "/taskbridge.json"], environment: badToken)
        #expect(denied == 1)
        #expect(deniedOut.contains("targets.zylon: GET /api/v1/app/me answered 401"), "\(deniedOut)")
        #expect(!deniedOut.contains("zyl_wrong"))
        await zylon.stop()
        await groupchat.stop()
    }

    /// The PostHog example: the key and the project are checked; a wrong key and a
    /// missing project are each reported at their config key.
    @Test func liveCheckAsksPostHogForItsProject() async throws {
        let groupchat = GroupChatFake()
        let posthog = PostHogFake()
        try await groupchat.start()
        try await posthog.start()
        let config = Fixtures.repositoryRoot + "/examples/sentry-to-posthog/taskbridge.json"
        let env = ["GROUPCHAT_BASE_URL": groupchat.baseURL, "GROUPCHAT_TOKEN": GroupChatFake.workspaceKey,
                   "POSTHOG_BASE_URL": posthog.baseURL, "POSTHOG_API_KEY": PostHogFake.personalKey, "POSTHOG_PROJECT_ID": "1"]
        let (ok, okOut) = try await BinaryProcess.run(["check", "--live", "--config", config], environment: env)
        #expect(ok == 0, "\(okOut)")
        #expect(posthog.requests.allSatisfy { $0.method == "GET" }, "the live check is read-only")
        var missing = env
        missing["POSTHOG_PROJECT_ID"] = "999"
        let (code, out) = try await BinaryProcess.run(["check", "--live", "--config", config], environment: missing)
        #expect(code == 1)
        #expect(out.contains("taskbridge.json: targets.posthog.projectId: project 999 not found"), "\(out)")
        var wrong = env
        wrong["POSTHOG_API_KEY"] = "phx_wrong"
        let (denied, deniedOut) = try await BinaryProcess.run(["check", "--live", "--config", config], environment: wrong)
        #expect(denied == 1)
        #expect(deniedOut.contains("targets.posthog.token: PostHog refused the key (401"), "\(deniedOut)")
        #expect(!deniedOut.contains("phx_wrong"))
        await posthog.stop()
        await groupchat.stop()
    }
}
