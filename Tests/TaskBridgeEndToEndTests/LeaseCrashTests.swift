import AsyncHTTPClient
import Foundation
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

/// The lease case against the built binary: a create that outlives its lease (the
/// upstream answers after 7 s, the lease is 5 s, the request timeout 30 s) is sent once
/// while the process lives, and after `kill -9` in the middle of it the restarted
/// process reconciles the create instead of sending it again.
@Suite(.serialized) struct LeaseCrashTests {
    @Test func aCreateOutlivingItsLeaseIsSentOnceAndSurvivesKill9() async throws {
        let fake = GroupChatFake(chaos: FakeChaos(slow: 1, slowSeconds: 7, only: ["POST /api/v1/tasks"]))
        try await fake.start()
        let ws = try Workspace(fakeURL: fake.baseURL)
        defer { ws.remove() }
        let config = try String(contentsOfFile: ws.configPath, encoding: .utf8)
            .replacingOccurrences(of: #""timeoutSeconds": 2"#, with: #""timeoutSeconds": 30"#)
            .replacingOccurrences(of: #""leaseSeconds": 30"#, with: #""leaseSeconds": 5"#)
        try config.write(toFile: ws.configPath, atomically: true, encoding: .utf8)
        let admin = [("Authorization", "Bearer e2e-admin")]
        try await withHTTPClient { client in
            // 1. No kill: the lease is renewed while the 7-second create is in flight.
            var server = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: Workspace.environment)
            var web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            let first = Fixtures.derived("sentry/issue.created.json", [("data.issue.id", "4401")])
            var (status, _) = try await web.post("/hooks/sentry", headers: Signed.sentry(first, secret: "e2e-sentry", resource: "issue",
                                                                                       requestID: "lease-1"), body: first)
            #expect(status == 202)
            let delivered = try await eventually(30) {
                let (_, jobs) = try await web.get("/admin/api/jobs?state=succeeded", headers: admin)
                return jobs["jobs"]?.arrayValue?.count == 1
            }
            #expect(delivered, "log:\n\(server.log.suffix(3000))")
            #expect(fake.requests("POST", "/api/v1/tasks").count == 1, "sent once although it outlived its lease")
            #expect(fake.tasks.count == 1)

            // 2. kill -9 while the next create is in flight, past its first lease.
            let second = Fixtures.derived("sentry/issue.created.json", [("data.issue.id", "4402")])
            (status, _) = try await web.post("/hooks/sentry", headers: Signed.sentry(second, secret: "e2e-sentry", resource: "issue",
                                                                                   requestID: "lease-2"), body: second)
            #expect(status == 202)
            _ = try await eventually(10) {
                let (_, jobs) = try await web.get("/admin/api/jobs?state=running", headers: admin)
                return jobs["jobs"]?.arrayValue?.count == 1
            }
            try await Task.sleep(nanoseconds: 6_000_000_000)  // past the 5 s lease, before the 7 s answer
            await server.kill9()
            // The fake applied the create before it started waiting: the task exists.
            #expect(await eventually(5) { fake.tasks.count == 2 })
            fake.setChaos(.none)
            server = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: Workspace.environment)
            web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            let resumed = try await eventually(30) {
                let (_, jobs) = try await web.get("/admin/api/jobs?state=succeeded", headers: admin)
                return jobs["jobs"]?.arrayValue?.count == 2
            }
            #expect(resumed, "log:\n\(server.log.suffix(3000))")
            #expect(fake.tasks.count == 2, "exactly one task per issue: the interrupted create was reconciled, not re-sent")
            #expect(fake.requests("POST", "/api/v1/tasks").count <= 2, "the interrupted create was not sent again")
            #expect(server.log.contains("running a job alone"))
            #expect(await server.terminate() == 0)
        }
        await fake.stop()
    }

    /// A job that keeps dying with the process (here: killed each time it runs) is set
    /// aside as a dead letter after `maxCrashes`, and the service goes on with the rest.
    @Test func aJobThatKeepsCrashingTheProcessBecomesADeadLetter() async throws {
        let fake = GroupChatFake(chaos: FakeChaos(slow: 1, slowSeconds: 60, slowBeforeApplying: true, only: ["POST /api/v1/tasks"]))
        try await fake.start()
        let ws = try Workspace(fakeURL: fake.baseURL)
        defer { ws.remove() }
        let config = try String(contentsOfFile: ws.configPath, encoding: .utf8)
            .replacingOccurrences(of: #""timeoutSeconds": 2"#, with: #""timeoutSeconds": 120"#)
        try config.write(toFile: ws.configPath, atomically: true, encoding: .utf8)
        let admin = [("Authorization", "Bearer e2e-admin")]
        try await withHTTPClient { client in
            var server = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: Workspace.environment)
            var web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            let body = Fixtures.derived("sentry/issue.created.json", [("data.issue.id", "4501")])
            let (status, _) = try await web.post("/hooks/sentry", headers: Signed.sentry(body, secret: "e2e-sentry", resource: "issue",
                                                                                       requestID: "poison-1"), body: body)
            #expect(status == 202)
            // Three crashes while the job runs (the last two while it runs alone).
            for crash in 1...3 {
                // After a restart, the job must have been claimed by this process — alone —
                // before the kill, or the kill would not count against it.
                let claimed = try await eventually(20) {
                    if crash > 1 && !server.log.contains("running a job alone") { return false }
                    let (_, jobs) = try await web.get("/admin/api/jobs?state=running", headers: admin)
                    return jobs["jobs"]?.arrayValue?.count == 1
                }
                #expect(claimed, "crash \(crash): log:\n\(server.log.suffix(2000))")
                await server.kill9()
                server = try BinaryProcess(config: ws.configPath, dataDir: ws.dataDir, environment: Workspace.environment)
                web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            }
            // The restarted process sets it aside as it starts.
            let deadListed = try await eventually(20) {
                let (_, dead) = try await web.get("/admin/api/jobs?state=dead", headers: admin)
                return dead["jobs"]?.arrayValue?.count == 1
            }
            #expect(deadListed, "log:\n\(server.log.suffix(2000))")
            let (_, dead) = try await web.get("/admin/api/jobs?state=dead", headers: admin)
            let job = try #require(dead["jobs"]?.arrayValue?.first)
            #expect(job["lastError"]?.stringValue?.contains("poison job: its run was cut short by a process crash 3 times") == true)
            #expect(server.log.contains("set aside as dead letters"))
            // The service goes on: a new event is delivered.
            fake.setChaos(.none)
            let next = Fixtures.derived("sentry/issue.created.json", [("data.issue.id", "4502")])
            _ = try await web.post("/hooks/sentry", headers: Signed.sentry(next, secret: "e2e-sentry", resource: "issue",
                                                                         requestID: "poison-2"), body: next)
            #expect(try await eventually(20) {
                let (_, jobs) = try await web.get("/admin/api/jobs?state=succeeded", headers: admin)
                return jobs["jobs"]?.arrayValue?.count == 1
            })
            #expect(await server.terminate() == 0)
        }
        await fake.stop()
    }
}
