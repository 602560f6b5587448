import AsyncHTTPClient
import Foundation
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

/// `taskbridge events`, `dlq list|retry` and `replay`, on the data directory of a
/// running service and through its admin API.
@Suite(.serialized) struct OperatorCommandTests {
    @Test func inspectRetryAndReplayFromTheCommandLine() async throws {
        let fake = GroupChatFake()
        fake.mutate { $0.projects.removeAll { $0["name"] == "Website" } }
        try await fake.start()
        let ws = try Workspace(fakeURL: fake.baseURL)
        defer { ws.remove() }
        try await withHTTPClient { client in
            let server = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: Workspace.environment)
            let port = try await server.waitUntilListening()
            let web = WebClient(client: client, base: "http://127.0.0.1:\(port)")
            let (_, accepted) = try await web.post("/hooks/widget", headers: [("Content-Type", "application/json")], body: Array(#"{"message":"hello from the CLI test"}"#.utf8))
            let eventId = try #require(accepted["event"]?.stringValue)
            let direct = ["--config", ws.configPath, "--data-dir", ws.dataDir]
            let api = ["--url", "http://127.0.0.1:\(port)", "--token", "e2e-admin"]

            #expect(await eventually(20) {
                let (_, out) = (try? await BinaryProcess.run(["dlq", "list", "--json"] + direct)) ?? (1, "")
                return out.contains("unknown project")
            })
            // Same view, three ways: direct on the data directory (beside the running
            // server), through the admin API, and as a table.
            let (code, events) = try await BinaryProcess.run(["events"] + direct)
            #expect(code == 0)
            #expect(events.contains(eventId))
            #expect(events.contains("widget.submitted"))
            let (_, viaAPI) = try await BinaryProcess.run(["events", "--json"] + api)
            #expect(try JSONParser.parse(viaAPI)["events"]?.arrayValue?.first?["id"]?.stringValue == eventId)
            let (_, detail) = try await BinaryProcess.run(["events", eventId] + direct)
            #expect(try JSONParser.parse(detail)["jobs"]?.arrayValue?.first?["lastError"] == "unknown project \"Website\"; known: Engineering")
            let (_, table) = try await BinaryProcess.run(["dlq", "list"] + api)
            #expect(table.hasPrefix("JOB"))
            #expect(table.contains("widget-feedback-triage"))

            // Fix upstream, then retry every dead letter from the command line.
            fake.mutate { $0.projects.append(["id": "proj_web", "workspaceId": "ws_1", "name": "Website"]) }
            let (retryCode, retried) = try await BinaryProcess.run(["dlq", "retry", "--all", "--source", "widget"] + direct)
            #expect(retryCode == 0)
            #expect(retried.contains("1 dead letter(s) are due again"))
            #expect(await eventually(20) { fake.tasks.count == 1 })

            // Replay plans the event again through the current rules.
            let (replayCode, replayed) = try await BinaryProcess.run(["replay", eventId] + api)
            #expect(replayCode == 0)
            #expect(replayed.hasPrefix("planned 1 job(s): job_"))
            #expect(await eventually(20) { fake.tasks.count == 2 })
            let (badCode, bad) = try await BinaryProcess.run(["replay", "evt_missing"] + api)
            #expect(badCode != 0)
            #expect(bad.contains("no event evt_missing"))
            #expect(await server.terminate() == 0)
        }
        await fake.stop()
    }

    @Test func changedRuleFilesAreReloadedWithoutASignal() async throws {
        let ws = try Workspace(fakeURL: "http://127.0.0.1:9", rules: ["rules/*.json"])
        defer { ws.remove() }
        let rule = #"{"rules": [{"id": "RULE", "sources": ["widget"], "events": ["widget.submitted"], "do": [{"action": "task.create", "title": "t"}]}]}"#
        try rule.replacingOccurrences(of: "RULE", with: "a").write(toFile: ws.directory + "/rules/a.json", atomically: true, encoding: .utf8)
        try await withHTTPClient { client in
            let server = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: Workspace.environment)
            let web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            #expect(try await web.get("/readyz").1["rules"] == 1)
            try rule.replacingOccurrences(of: "RULE", with: "b").write(toFile: ws.directory + "/rules/b.json", atomically: true, encoding: .utf8)
            #expect(await eventually(15) { ((try? await web.get("/readyz").1["rules"]) ?? nil) == 2 })
            #expect(server.log.contains("rule files changed"))
            #expect(await server.terminate() == 0)
        }
    }
}
