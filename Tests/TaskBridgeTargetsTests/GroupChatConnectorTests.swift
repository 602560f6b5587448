import AsyncHTTPClient
import UpstreamFakes
import Synchronization
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport
@testable import TaskBridgeTargets

/// The connector over real HTTP against the strict fake.
@Suite struct GroupChatConnectorTests {
    struct Rig {
        let fake: GroupChatFake
        let connector: GroupChatConnector
        let links: Locked<[String: LinkedTask]>

        func run(_ step: RenderedStep, key: String = "tb_test", uncertain: Bool = false) async -> StepResult {
            let links = self.links
            return await connector.execute(step, context: .init(idempotencyKey: key, uncertain: uncertain, lookupLink: { k in
                links.withLock { $0[k] }
            }))
        }
    }

    func withRig(token: String = GroupChatFake.workspaceKey, workspace: String? = nil, batch: Bool = false,
                 _ body: (Rig) async throws -> Void) async throws {
        let fake = GroupChatFake()
        try await fake.start()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let wall: @Sendable () -> Double = { 1_700_000_000 }
        let gate = TargetGate(name: "gc", concurrency: 4, rateLimit: nil, breaker: BreakerSettings())
        let transport = HTTPGroupChatTransport(client: client, baseURL: fake.baseURL,
                                               credentials: try GroupChatCredentials(token: Secret(token), workspaceId: workspace),
                                               timeoutSeconds: 5, gate: gate, wallClock: wall)
        let connector = GroupChatConnector(target: "gc", transport: transport,
                                           directory: GroupChatDirectory(transport: transport, ttl: 300, wallClock: wall),
                                           defaultProject: "Engineering",
                                           batcher: batch ? BatchCoalescer(transport: transport, maxOperations: 200, wallClock: wall) : nil,
                                           wallClock: wall)
        do {
            try await body(Rig(fake: fake, connector: connector, links: Locked([:])))
        } catch {
            try? await client.shutdown()
            await fake.stop()
            throw error
        }
        try await client.shutdown()
        await fake.stop()
    }

    func output(_ r: StepResult) -> JSONValue? {
        if case .success(let o, _) = r.outcome { return o }
        return nil
    }

    func failure(_ r: StepResult) -> StepFailure? {
        if case .failure(let f) = r.outcome { return f }
        return nil
    }

    @Test func createSendsOnlyDocumentedFieldsAndReportsTheLink() async throws {
        try await withRig { rig in
            let step = RenderedStep(stepId: "0", action: .taskCreate, target: "gc",
                                    values: ["title": "Crash", "description": "Details", "stage": "doing", "owner": "Grace Hopper",
                                             "dueDate": 1_700_000_000_000, "estimate": 3],
                                    linkKey: "sentry-issue:1")
            let r = await rig.run(step)
            let task = try #require(output(r)?["task"])
            #expect(task["stageId"] == "st_doing")
            #expect(task["ownerId"] == "user_grace")
            #expect(task["dueDate"] == 1_700_000_000_000)
            #expect(task["description"] == "Details\n\n<!-- taskbridge:tb_test -->")
            guard case .success(_, let link?) = r.outcome else { Issue.record("no link"); return }
            #expect(link.key == "sentry-issue:1")
            #expect(link.taskId == "task_1")
            #expect(link.projectId == "proj_eng")
            #expect(r.wire.map(\.request).map { String($0.prefix(24)) } == [
                "GET /api/v1/projects", "GET /api/v1/statuses", "GET /api/v1/members", "POST /api/v1/tasks {\"des",
            ])
        }
    }

    @Test func ifLinkedUpdateAndReopenChangeTheLinkedTask() async throws {
        try await withRig { rig in
            rig.fake.mutate { w in
                _ = try? w.createTask(["projectId": "proj_eng", "title": "Old title"], creator: "api")
                _ = try? w.updateTask(["id": "task_1", "completed": true])
            }
            rig.links.withLock { $0["k"] = .init(taskId: "task_1", projectId: "proj_eng") }
            var step = RenderedStep(stepId: "0", action: .taskCreate, target: "gc", values: ["title": "New title"], linkKey: "k", ifLinked: .update)
            _ = await rig.run(step)
            #expect(rig.fake.tasks.first?["title"] == "New title")
            #expect(rig.fake.tasks.first?["completed"] == true)
            step.ifLinked = .reopen
            let reopened = await rig.run(step)
            #expect(output(reopened)?["created"] == false)
            #expect(rig.fake.tasks.first?["completed"] == false)
            #expect(rig.fake.tasks.count == 1)
            step.ifLinked = .skip
            let skipped = await rig.run(step)
            #expect(skipped.wire.isEmpty)
            #expect(output(skipped)?["task"]?["id"] == "task_1")
        }
    }

    @Test func alreadyActiveDelegationIsASuccess() async throws {
        try await withRig { rig in
            rig.fake.mutate { _ = try? $0.createTask(["projectId": "proj_eng", "title": "T"], creator: "api") }
            let step = RenderedStep(stepId: "0", action: .agentDelegate, target: "gc", task: .id("task_1"), values: ["agent": "Triage Bot"])
            #expect(output(await rig.run(step))?["alreadyActive"] == false)
            let again = await rig.run(step)
            #expect(output(again)?["alreadyActive"] == true)
            #expect(output(again)?["run"]?["status"] == "already_active")
            #expect(rig.fake.workspace.runCount == 1)
        }
    }

    @Test func unknownNamesFailPermanentlyAfterOneRefresh() async throws {
        try await withRig { rig in
            let step = RenderedStep(stepId: "0", action: .taskCreate, target: "gc", values: ["title": "T", "stage": "Blocked"])
            let r = await rig.run(step)
            let f = try #require(failure(r))
            #expect(f.failureClass == .permanent)
            #expect(f.reason == "unknown stage in project proj_eng \"Blocked\"; known: To do (todo), Doing (doing), In review (in_review), Done (done)")
            #expect(rig.fake.requests("GET", "/api/v1/statuses").count == 2, "one cached read and one refresh")
            // Someone adds the column: the next miss refreshes and finds it.
            rig.fake.mutate { $0.statuses.append(["id": "st_blocked", "projectId": "proj_eng", "title": "Blocked", "type": "doing", "order": 9]) }
            #expect(output(await rig.run(step))?["task"]?["stageId"] == "st_blocked")
        }
    }

    @Test func anUncertainCreateFindsTheTaskItAlreadyMade() async throws {
        try await withRig { rig in
            let step = RenderedStep(stepId: "0", action: .taskCreate, target: "gc", values: ["title": "Once"])
            _ = await rig.run(step, key: "tb_same")
            let again = await rig.run(step, key: "tb_same", uncertain: true)
            #expect(output(again)?["reconciled"] == true)
            #expect(rig.fake.tasks.count == 1)
            // A different step (key) is not mistaken for it.
            _ = await rig.run(step, key: "tb_other", uncertain: true)
            #expect(rig.fake.tasks.count == 2)
        }
    }

    @Test func moveLearnsTheProjectOfAnUnknownTaskOnce() async throws {
        try await withRig { rig in
            rig.fake.mutate { _ = try? $0.createTask(["projectId": "proj_web", "title": "T"], creator: "api") }
            let step = RenderedStep(stepId: "0", action: .taskMove, target: "gc", task: .id("task_1"), values: ["stage": "Shipped"])
            #expect(output(await rig.run(step))?["task"]?["stageId"] == "st_web_done")
            let back = RenderedStep(stepId: "0", action: .taskMove, target: "gc", task: .id("task_1"), values: ["stage": "todo"])
            #expect(output(await rig.run(back))?["task"]?["stageId"] == "st_web_triage")
            #expect(rig.fake.requests("PATCH", "/api/v1/tasks").filter { $0.body?.objectValue?.count == 1 }.count == 1)
        }
    }

    @Test func personalTokensNeedAWorkspace() throws {
        #expect(throws: StepFailure.self) { try GroupChatCredentials(token: Secret("gcp_x"), workspaceId: nil) }
        #expect(throws: Never.self) { try GroupChatCredentials(token: Secret("gck_x"), workspaceId: nil) }
    }

    @Test func missingLinkIsAPermanentFailure() async throws {
        try await withRig { rig in
            let step = RenderedStep(stepId: "0", action: .taskComplete, target: "gc", task: .link("sentry-issue:404"))
            let f = try #require(failure(await rig.run(step)))
            #expect(f.failureClass == .permanent)
            #expect(f.reason == "no task is linked to \"sentry-issue:404\" at target gc")
            #expect(rig.fake.requests.isEmpty)
        }
    }
}
