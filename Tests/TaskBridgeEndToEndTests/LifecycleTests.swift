import AsyncHTTPClient
import Foundation
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

@Suite(.serialized) struct LifecycleTests {
    /// SIGTERM: stop accepting, let in-flight steps finish within the grace period,
    /// exit 0; the next start delivers whatever is left, without duplicates.
    @Test func sigtermDrainsInFlightWorkAndExitsZero() async throws {
        let fake = GroupChatFake(chaos: FakeChaos(slow: 1, slowSeconds: 0.5))
        try await fake.start()
        let ws = try Workspace(fakeURL: fake.baseURL)
        defer { ws.remove() }
        try await withHTTPClient { client in
            let server = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: Workspace.environment)
            let web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            for i in 0..<20 {
                let body = Fixtures.derived("sentry/issue.created.json", [("data.issue.id", .string("66\(i)"))])
                _ = try await web.post("/hooks/sentry", headers: Signed.sentry(body, secret: "e2e-sentry", resource: "issue", requestID: "t\(i)"), body: body)
            }
            _ = await eventually(10) { fake.requests.contains { $0.method == "POST" } }
            #expect(await server.terminate() == 0)
            #expect(server.log.contains("dispatcher stopped"))
            // No request may be cut off mid-flight by the shutdown.
            #expect(fake.requests.allSatisfy { $0.status != nil })
            let restarted = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: Workspace.environment)
            _ = try await restarted.waitUntilListening()
            fake.setChaos(.none)
            #expect(await eventually(30) { fake.tasks.count == 20 })
            #expect(await restarted.terminate() == 0)
            #expect(fake.tasks.count == 20)
            await fake.stop()
        }
    }

    @Test func sighupReloadsValidRulesAndKeepsTheOldOnesOtherwise() async throws {
        let ws = try Workspace(fakeURL: "http://127.0.0.1:9", rules: ["rules/*.json"])
        defer { ws.remove() }
        let one = #"{"rules": [{"id": "a", "sources": ["widget"], "events": ["widget.submitted"], "do": [{"action": "task.create", "title": "{{ body.message }}"}]}]}"#
        try one.write(toFile: ws.directory + "/rules/r.json", atomically: true, encoding: .utf8)
        try await withHTTPClient { client in
            let server = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: Workspace.environment)
            let web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            #expect(try await web.get("/readyz").1["rules"] == 1)
            try #"{"rules": [{"id": "a", "sources": ["widget"], "events": ["widget.submitted"], "when": {"path": "body.message", "eqauls": "x"}, "do": [{"action": "task.create", "title": "t"}]}]}"#
                .write(toFile: ws.directory + "/rules/r.json", atomically: true, encoding: .utf8)
            server.signal(SIGHUP)
            #expect(await eventually(10) { server.log.contains("new rules rejected") })
            #expect(server.log.contains(#"rules[0].when.eqauls: unknown operator \"eqauls\" (did you mean \"equals\"?)"#))
            #expect(try await web.get("/readyz").1["rules"] == 1)
            let two = #"{"rules": [{"id": "a", "sources": ["widget"], "events": ["widget.submitted"], "do": [{"action": "task.create", "title": "{{ body.message }}"}]}, {"id": "b", "sources": ["widget"], "events": ["widget.*"], "do": [{"action": "task.create", "title": "copy"}]}]}"#
            try two.write(toFile: ws.directory + "/rules/r.json", atomically: true, encoding: .utf8)
            server.signal(SIGHUP)
            #expect(await eventually(10) { ((try? await web.get("/readyz").1["rules"]) ?? nil) == 2 })
            #expect(await server.terminate() == 0)
        }
    }
}

@Suite struct CommandLineTests {
    @Test func checkReportsEveryProblemWithItsLocationAndExits1() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-check-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/rules", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"{"sources": {"github": {"kind": "github", "secrets": [{"env": "X"}], "maxBodyByts": 5}}, "targets": {"gc": {"kind": "groupchat", "token": {"env": "T"}}}}"#
            .write(toFile: dir + "/taskbridge.json", atomically: true, encoding: .utf8)
        try #"{"rules": [{"id": "r", "sources": ["githb"], "events": ["push"], "when": {"path": "body.ref", "eqauls": "x"}, "do": [{"action": "task.create", "title": "{{ body.ref | lowr }}"}]}]}"#
            .write(toFile: dir + "/rules/a.json", atomically: true, encoding: .utf8)
        let (code, output) = try await BinaryProcess.run(["check", "--config", dir + "/taskbridge.json"])
        #expect(code == 1)
        #expect(output.contains(#"\#(dir)/taskbridge.json: sources.github.maxBodyByts: unknown key "maxBodyByts" (did you mean "maxBodyBytes"?)"#))
        // The config is invalid, so rules are not read yet; fix it and check again.
        try #"{"sources": {"github": {"kind": "github", "secrets": [{"env": "X"}]}}, "targets": {"gc": {"kind": "groupchat", "token": {"env": "T"}}}}"#
            .write(toFile: dir + "/taskbridge.json", atomically: true, encoding: .utf8)
        let (code2, output2) = try await BinaryProcess.run(["check", "--config", dir + "/taskbridge.json"])
        #expect(code2 == 1)
        #expect(output2.contains(#"\#(dir)/rules/a.json: rules[0].sources[0]: unknown source "githb" (did you mean "github"?); configured sources: github"#))
        #expect(output2.contains(#"\#(dir)/rules/a.json: rules[0].when.eqauls: unknown operator "eqauls" (did you mean "equals"?)"#))
        #expect(output2.contains(#"rules[0].do[0].title: unknown filter "lowr" (did you mean "lower"?)"#))
        let (code3, output3) = try await BinaryProcess.run(["check", "--config", Fixtures.repositoryRoot + "/config/taskbridge.json"])
        #expect(code3 == 0, "\(output3)")
    }

    @Test func dryRunPrintsTheRequestsAndSendsNothing() async throws {
        let fake = GroupChatFake()
        try await fake.start()
        let ws = try Workspace(fakeURL: fake.baseURL)
        defer { ws.remove() }
        let payload = ws.directory + "/alert.json"
        try Data(Fixtures.bytes("sentry/event_alert.triggered.json")).write(to: URL(fileURLWithPath: payload))
        let (code, output) = try await BinaryProcess.run(
            ["test", "--config", ws.configPath, "--source", "sentry", "--payload", payload, "--header", "Sentry-Hook-Resource: event_alert",
             "--explain"], environment: Workspace.environment)
        #expect(code == 0, "\(output)")
        #expect(output.contains("event: event_alert.triggered (source sentry"))
        #expect(output.contains("● sentry-alert-task"))
        #expect(output.contains("POST /api/v1/tasks"))
        #expect(output.contains("Authorization: Bearer <redacted>"))
        #expect(output.contains(#""title":"[Sentry] ReferenceError: heck is not defined""#))
        #expect(output.contains("○ sentry-issue-task: event type event_alert.triggered is not in issue.created"))
        #expect(!output.contains("gck_fake_workspace_key"))
        #expect(fake.requests.isEmpty, "a dry run sends nothing")
        let (jsonCode, json) = try await BinaryProcess.run(
            ["test", "--config", ws.configPath, "--source", "sentry", "--payload", payload, "--header", "Sentry-Hook-Resource: event_alert", "--json"],
            environment: Workspace.environment)
        #expect(jsonCode == 0)
        let report = try JSONParser.parse(json)
        #expect(report["matched"]?.arrayValue?.first?["steps"]?.arrayValue?.first?["requests"]?.arrayValue?.first?["method"] == "POST")
        await fake.stop()
    }
}
