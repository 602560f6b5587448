import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTestSupport

/// Hundreds of events across many entities against an upstream that fails, throttles,
/// stalls, resets and "succeeds but drops the answer": every step lands exactly once in
/// effect, per-entity order holds, nothing is left pending.
@Suite struct ChaosTests {
    @Test func everyStepLandsOnceInOrderDespiteAFlakyUpstream() async throws {
        let chaos = FakeChaos(serverError: 0.08, rateLimited: 0.05, retryAfterSeconds: 1, slow: 0.04, slowSeconds: 0.4,
                              reset: 0.05, acceptedThenReset: 0.08)
        let fake = GroupChatFake(chaos: chaos, seed: 7)
        let config = testConfig(target: #", "timeoutSeconds": 0.2, "concurrency": 8, "breaker": {"failureThreshold": 1000, "openSeconds": 0.1}, "retry": {"initialDelaySeconds": 0.01, "maxDelaySeconds": 0.1, "retryAfterCapSeconds": 0.05}"#)
            .replacingOccurrences(of: #", "retry": {"initialDelaySeconds": 0.02, "maxDelaySeconds": 0.2}"#, with: "")
        let issues = 80
        let widgets = 60
        try await withBridge(config: config, fake: fake, dispatcher: true) { bridge async throws in
            // Each issue: created, resolved, regressed — sent in that order; issues interleave.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<4 {
                    group.addTask {
                        for i in stride(from: lane, to: issues, by: 4) {
                            let id = JSONValue.string("77\(i)")
                            for (n, action) in ["created", "resolved", "unresolved"].enumerated() {
                                let body = Fixtures.derived("sentry/issue.created.json", [("data.issue.id", id), ("action", .string(action))])
                                let r = try await bridge.sentry(body, resource: "issue", requestID: "chaos-\(i)-\(n)")
                                #expect(r.status.code == 202)
                            }
                        }
                    }
                }
                group.addTask {
                    for w in 0..<widgets {
                        let r = try await bridge.post("/hooks/widget", [("Content-Type", "application/json")], Array(#"{"message":"chaos \#(w)"}"#.utf8))
                        #expect(r.status.code == 202)
                    }
                }
                try await group.waitForAll()
            }
            let total = issues * 3 + widgets
            let settled = try await eventually(120) {
                try await bridge.store.listJobs(JobFilter(state: "succeeded", limit: 1000)).count == total
            }
            #expect(settled)
            let dead = try await bridge.store.listJobs(JobFilter(state: "dead", limit: 1000))
            #expect(dead.isEmpty, "dead letters: \(dead.map { "\($0.ruleId): \($0.lastError ?? "")" })")
            #expect(try await bridge.store.listJobs(JobFilter(state: "pending", limit: 1000)).isEmpty)
            #expect(try await bridge.store.listJobs(JobFilter(state: "running", limit: 1000)).isEmpty)

            let workspace = fake.workspace
            let tasks = workspace.allTasks
            // Exactly one task per issue and per submission, despite dropped answers.
            #expect(tasks.count == issues + widgets)
            #expect(Set(tasks.compactMap { $0["title"]?.stringValue }).count == 1 + widgets)
            let links = try await bridge.store.listJobs(JobFilter(ruleId: "sentry-issue-task", limit: 1000)).count
            #expect(links == issues)
            // Per issue, what was applied upstream happened in arrival order: completed,
            // then reopened (repeats of one step are fine; reordering is not).
            for i in 0..<issues {
                let link = try #require(try await bridge.store.link(target: "groupchat", key: "sentry-issue:77\(i)"))
                let sequence = workspace.applied.filter { $0.taskId == link.taskId && $0.op == "update" }
                    .compactMap { $0.fields["completed"]?.boolValue }
                var collapsed: [Bool] = []
                for v in sequence where collapsed.last != v { collapsed.append(v) }
                #expect(collapsed == [true, false], "issue \(i): \(sequence)")
                #expect(workspace.tasks[link.taskId]?["completed"] == false)
            }
            // The chaos really happened.
            let dropped = fake.requests.filter { $0.status == nil }.count
            let failed = fake.requests.filter { ($0.status ?? 0) >= 429 }.count
            #expect(dropped > 10)
            #expect(failed > 10)
            #expect(!fake.requests("GET", "/api/v1/tasks").isEmpty, "uncertain creates were reconciled")
        }
    }
}
