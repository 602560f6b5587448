import Foundation
import GroupChatFake
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

/// `taskbridge check --live` against the fake workspace: the shipped example rules
/// resolve; a typo in a stage, an unknown member and a bad token are each reported at
/// their place, and the command exits 1.
@Suite(.serialized) struct LiveCheckTests {
    @Test func liveCheckResolvesEveryLiteralName() async throws {
        let fake = GroupChatFake()
        try await fake.start()
        let ws = try Workspace(fakeURL: fake.baseURL)
        defer { ws.remove() }
        let (ok, okOut) = try BinaryProcess.run(["check", "--live", "--config", ws.configPath], environment: Workspace.environment)
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
        let (bad, out) = try BinaryProcess.run(["check", "--live", "--config", typo.configPath], environment: Workspace.environment)
        #expect(bad == 1)
        #expect(out.contains(#"\#(rules): rules[0].do[0].stage: stage "Reviw" not found in project Engineering (has: To do (todo), Doing (doing), In review (in_review), Done (done))"#), "\(out)")
        #expect(out.contains(#"\#(rules): rules[0].do[0].owner: member "Alan Turing" not found (has: Ada Lovelace, Grace Hopper)"#), "\(out)")
        #expect(!out.contains("do[1].stage"), "a templated stage cannot be checked before an event")

        var env = Workspace.environment
        env["E2E_GC_TOKEN"] = "gck_revoked"
        let (denied, deniedOut) = try BinaryProcess.run(["check", "--live", "--config", ws.configPath], environment: env)
        #expect(denied == 1)
        #expect(deniedOut.contains("targets.groupchat: cannot read the workspace: GET /api/v1/projects answered 401"), "\(deniedOut)")
        #expect(!deniedOut.contains("gck_revoked"))
        await fake.stop()
    }
}
