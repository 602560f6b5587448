import AsyncHTTPClient
import Foundation
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

/// The promises that only a real process can show: an acknowledged webhook survives
/// `kill -9`, and a delivery interrupted by `kill -9` is finished — once — after restart.
@Suite(.serialized) struct CrashDurabilityTests {
    @Test func everyAcknowledgedWebhookSurvivesKill9() async throws {
        let ws = try Workspace(fakeURL: "http://127.0.0.1:9")
        defer { ws.remove() }
        var env = Workspace.environment
        env["E2E_GC_TOKEN"] = nil  // no delivery: this test is about ingest
        try await withHTTPClient { client in
            let server = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: env)
            let port = try await server.waitUntilListening()
            let web = WebClient(client: client, base: "http://127.0.0.1:\(port)")
            let body = Fixtures.bytes("github/pull_request.opened.json")
            let acknowledged = Locked<[String: String]>([:])  // delivery id → event id
            let attempted = Locked<Set<String>>([])
            // Eight senders deliver new webhooks back to back until the server dies under
            // them, so requests are always in flight when the kill lands.
            await withTaskGroup(of: Void.self) { group in
                for sender in 0..<8 {
                    group.addTask {
                        var n = 0
                        while true {
                            let delivery = "kill-\(sender)-\(n)"
                            n += 1
                            attempted.withLock { _ = $0.insert(delivery) }
                            let headers = Signed.github(body, secret: "e2e-gh", event: "pull_request", delivery: delivery)
                            guard let (status, json) = try? await web.post("/hooks/github", headers: headers, body: body) else { return }
                            if status == 202, let id = json["event"]?.stringValue { acknowledged.withLock { $0[delivery] = id } }
                        }
                    }
                }
                group.addTask {
                    _ = await eventually(60) { acknowledged.value.count >= 300 }
                    await server.kill9()
                }
            }
            let acked = acknowledged.value
            let total = attempted.value.sorted()
            #expect(acked.count >= 300)

            // Restart on the same data directory and send everything again.
            let restarted = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: env)
            let port2 = try await restarted.waitUntilListening()
            let web2 = WebClient(client: client, base: "http://127.0.0.1:\(port2)")
            var eventOf: [String: String] = [:]
            for delivery in total {
                let headers = Signed.github(body, secret: "e2e-gh", event: "pull_request", delivery: delivery)
                let (status, json) = try await web2.post("/hooks/github", headers: headers, body: body)
                let id = try #require(json["event"]?.stringValue)
                eventOf[delivery] = id
                if let first = acked[delivery] {
                    #expect(status == 200, "acknowledged before the kill, so it must be stored")
                    #expect(id == first)
                } else {
                    #expect(status == 200 || status == 202)
                }
            }
            let (_, events) = try await web2.get("/admin/api/events?limit=1000&source=github", headers: [("Authorization", "Bearer e2e-admin")])
            let stored = events["events"]?.arrayValue ?? []
            #expect(stored.count == total.count, "one event per delivery id, no more")
            #expect(Set(stored.compactMap { $0["dedupeKey"]?.stringValue }) == Set(total))
            #expect(Set(stored.compactMap { $0["id"]?.stringValue }) == Set(eventOf.values))
            #expect(await restarted.terminate() == 0)
        }
    }

    @Test func deliveriesInterruptedByKill9FinishOnceAfterRestart() async throws {
        // Every answer is delayed after the change is applied: a kill in that window
        // leaves a step done upstream but not recorded here.
        let fake = GroupChatFake(chaos: FakeChaos(slow: 1, slowSeconds: 0.05))
        try await fake.start()
        let ws = try Workspace(fakeURL: fake.baseURL, extraConfig: "")
        defer { ws.remove() }
        // This test kills the process itself, four times: a job that happens to run alone
        // at several of those kills must not be taken for a poison job.
        let config = try String(contentsOfFile: ws.configPath, encoding: .utf8)
            .replacingOccurrences(of: #""leaseSeconds": 30"#, with: #""leaseSeconds": 30, "maxCrashes": 20"#)
        try config.write(toFile: ws.configPath, atomically: true, encoding: .utf8)
        try await withHTTPClient { client in
            let issues = 100
            var server = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: Workspace.environment)
            var web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            // Eight lanes of issues at once (each issue's two events in order): posted one
            // by one, the webhooks could arrive slower than they are delivered, and every
            // kill below would come after the work was done.
            let poster = web
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        for i in stride(from: lane, to: issues, by: 8) {
                            for (n, action) in ["created", "resolved"].enumerated() {
                                let body = Fixtures.derived("sentry/issue.created.json", [("data.issue.id", .string("55\(i)")), ("action", .string(action))])
                                let (status, _) = try await poster.post("/hooks/sentry", headers: Signed.sentry(body, secret: "e2e-sentry", resource: "issue",
                                                                                                                requestID: "crash-\(i)-\(n)"), body: body)
                                #expect(status == 202)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Kill it repeatedly while it delivers, at fixed shares of the work (distinct
            // changes: an update re-sent after a kill is applied, and logged, again), so
            // every kill lands with work done and work left, however fast the machine.
            var writesAtKill: [Int] = []
            for share in [0.15, 0.35, 0.55, 0.75] {
                let due = Int(Double(issues * 2) * share)
                _ = await eventually(60) { Set(fake.workspace.applied).count >= due }
                await server.kill9()
                // Distinct changes: an update re-sent after a kill is applied (and logged) again.
                writesAtKill.append(Set(fake.workspace.applied).count)
                server = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: Workspace.environment)
                web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            }
            // A batch applies up to 200 changes in one request, so the last share can be
            // overtaken between two looks; at least three kills must land mid-work.
            #expect(writesAtKill.filter { $0 < issues * 2 }.count >= 3, "the kills must land while work remains: \(writesAtKill)")
            let done = try await eventually(90) {
                let (_, jobs) = try await web.get("/admin/api/jobs?state=succeeded&limit=1000", headers: [("Authorization", "Bearer e2e-admin")])
                return jobs["jobs"]?.arrayValue?.count == issues * 2
            }
            let (_, all) = try await web.get("/admin/api/jobs?limit=1000", headers: [("Authorization", "Bearer e2e-admin")])
            let unfinished = (all["jobs"]?.arrayValue ?? []).filter { $0["state"] != "succeeded" }
                .map { "\($0["rule"]?.textValue ?? "") \($0["state"]?.textValue ?? "") attempts=\($0["attempts"]?.textValue ?? "") key=\($0["orderingKey"]?.textValue ?? "") error=\($0["lastError"]?.textValue ?? "")" }
            #expect(done, "unfinished jobs: \(unfinished)\nlog:\n\(server.log.suffix(3000))")
            let tasks = fake.tasks
            #expect(tasks.count == issues, "exactly one task per issue, whatever was interrupted")
            #expect(tasks.allSatisfy { $0["completed"] == true })
            #expect(await server.terminate() == 0)
            await fake.stop()
        }
    }
}
