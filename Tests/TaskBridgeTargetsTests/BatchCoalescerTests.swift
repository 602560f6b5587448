import UpstreamFakes
import Synchronization
import Testing
import TaskBridgeCore
@testable import TaskBridgeTargets

/// The coalescer against the fake workspace's own batch semantics, in process: the
/// first call is held so the next updates queue up and leave together.
@Suite struct BatchCoalescerTests {
    /// Answers from a ``FakeWorkspace``; holds the first call until released.
    final class WorkspaceTransport: GroupChatTransport {
        let workspace = Mutex(FakeWorkspace.standard())
        let sent = Mutex<[GroupChatRequest]>([])
        let held = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let holdFirst = Mutex(true)
        /// A task whose operation fails inside a batch call with an internal error.
        let failBatchOperation = Mutex<String?>(nil)

        func send(_ request: GroupChatRequest) async throws(StepFailure) -> (GroupChatResponse, WireRecord) {
            let n = sent.withLock { s -> Int in
                s.append(request)
                return s.count
            }
            if n == 1, holdFirst.withLock({ $0 }) {
                await withCheckedContinuation { c in held.withLock { $0 = c } }
            }
            // The text on the wire must be the body itself.
            let body = try! JSONParser.parse(request.serializedBody ?? "{}").objectValue ?? [:]
            let answer: JSONValue
            do throws(FakeWorkspace.Failure) {
                let failing = failBatchOperation.withLock { $0 }
                answer = try workspace.withLock { w throws(FakeWorkspace.Failure) in
                    guard request.path == "/api/v1/tasks/batch" else { return try w.updateTask(body) }
                    return try w.batch(body, failing: { $0.stringValue == failing })
                }
            } catch {
                return (GroupChatResponse(status: error.status, body: Array(#"{"error":"x"}"#.utf8)), WireRecord(request: request.description, status: error.status, latencyMillis: 0, response: nil))
            }
            return (GroupChatResponse(status: 200, body: JSONWriter.serializeBytes(answer)),
                    WireRecord(request: request.description, status: 200, latencyMillis: 0, response: nil))
        }

        func release() {
            holdFirst.withLock { $0 = false }
            held.withLock { $0?.resume(); $0 = nil }
        }

        var isHolding: Bool { held.withLock { $0 != nil } }
    }

    func makeTasks(_ transport: WorkspaceTransport, _ n: Int) throws -> [String] {
        try transport.workspace.withLock { w in
            try (0..<n).map { i in
                try w.createTask(["projectId": "proj_eng", "title": .string("Task \(i)"), "description": "long text"],
                                 creator: "user_grace")["id"]!.stringValue!
            }
        }
    }

    func run(fullTask: [Bool]) async throws -> (results: [BatchCoalescer.ItemResult], sent: [GroupChatRequest]) {
        let transport = WorkspaceTransport()
        let ids = try makeTasks(transport, fullTask.count)
        let coalescer = BatchCoalescer(transport: transport, maxOperations: 200, maxCallsInFlight: 1, wallClock: { 1_700_000_000 })
        let results = try await withThrowingTaskGroup(of: (Int, BatchCoalescer.ItemResult).self) { group in
            group.addTask { (0, await coalescer.update(id: ids[0], fields: ["completed": true], idempotencyKey: "k0", fullTask: fullTask[0])) }
            while !transport.isHolding { await Task.yield() }
            for i in 1..<ids.count {
                group.addTask { (i, await coalescer.update(id: ids[i], fields: ["completed": true], idempotencyKey: "k\(i)", fullTask: fullTask[i])) }
            }
            while await coalescer.queuedCount < ids.count - 1 { await Task.yield() }
            transport.release()
            var out = [BatchCoalescer.ItemResult?](repeating: nil, count: ids.count)
            for try await (i, r) in group { out[i] = r }
            return out.map { $0! }
        }
        return (results, transport.sent.withLock { $0 })
    }

    func task(_ r: BatchCoalescer.ItemResult) -> [String: JSONValue]? {
        if case .ok(let task, _) = r { return task.objectValue }
        return nil
    }

    func record(_ r: BatchCoalescer.ItemResult) -> String? {
        switch r {
        case .ok(_, let wire): wire.request
        case .failed(_, let wire): wire?.request
        }
    }

    @Test func queuedUpdatesLeaveInOneCallAndEachGetsItsOwnRecord() async throws {
        let (results, sent) = try await run(fullTask: [true, false, false, false])
        #expect(sent.map(\.path) == ["/api/v1/tasks", "/api/v1/tasks/batch"])
        let batch = try #require(sent.last)
        // The pre-serialized body is the body.
        #expect(batch.serializedBody == JSONWriter.serialize(try #require(batch.body)))
        #expect(batch.body?["operations"]?.arrayValue?.count == 3)
        // Each queued update gets the record of its own operation. (Which operation is
        // which position depends on the order the three concurrent steps queued in.)
        let operations = try #require(batch.body?["operations"]?.arrayValue)
        for i in 1...3 {
            let r = try #require(record(results[i]))
            let n = try #require(operations.firstIndex { r.hasSuffix("] " + JSONWriter.serialize($0)) }, "\(r)")
            #expect(r == "POST /api/v1/tasks/batch [operation \(n + 1) of 3] " + JSONWriter.serialize(operations[n]))
        }
        #expect(Set((1...3).compactMap { record(results[$0]) }).count == 3, "three different records")
    }

    @Test func summariesOnlyWhenNoJobNeedsTheWholeTask() async throws {
        let (summaries, _) = try await run(fullTask: [false, false, false])
        for r in summaries.dropFirst() {
            let t = try #require(task(r))
            #expect(Set(t.keys) == Set(GroupChatConnector.taskSummaryKeys))
            #expect(t["completed"] == true)
            #expect(t["projectId"] == "proj_eng")
        }
        let (full, _) = try await run(fullTask: [false, false, true])
        for r in full.dropFirst() {
            let t = try #require(task(r))
            #expect(t["description"] == "long text")
            #expect(t["createdAt"] != nil)
        }
    }

    /// Completes three tasks: the first call is held so the other two queue up and
    /// leave together in one batch call. `guards[i]`, when given, is job i's lease.
    func completeThree(_ transport: WorkspaceTransport, _ ids: [String],
                       guards: [Int: any SendGuard] = [:]) async throws -> [Int: BatchCoalescer.ItemResult] {
        let coalescer = BatchCoalescer(transport: transport, maxOperations: 200, maxCallsInFlight: 1, wallClock: { 1_700_000_000 })
        return try await withThrowingTaskGroup(of: (Int, BatchCoalescer.ItemResult).self) { group in
            func add(_ i: Int) {
                group.addTask {
                    (i, await SendGuards.$current.withValue(guards[i]) {
                        await coalescer.update(id: ids[i], fields: ["completed": true], idempotencyKey: "k\(i)", fullTask: false)
                    })
                }
            }
            add(0)
            while !transport.isHolding { await Task.yield() }
            add(1)
            add(2)
            while await coalescer.queuedCount < 2 { await Task.yield() }
            transport.release()
            var out: [Int: BatchCoalescer.ItemResult] = [:]
            for try await (i, r) in group { out[i] = r }
            return out
        }
    }

    @Test func aFailedOperationFailsOnlyItsOwnUpdate() async throws {
        let transport = WorkspaceTransport()
        let ids = try makeTasks(transport, 3)
        try transport.workspace.withLock { w in try w.deleteTask(ids[2]) }
        let results = try await completeThree(transport, ids)
        #expect(task(try #require(results[1]))?["id"]?.stringValue == ids[1])
        guard case .failed(let failure, _)? = results[2] else { Issue.record("expected a failure"); return }
        // The failed operation is sent again alone, and its 404 classifies it: permanent.
        #expect(failure.failureClass == .permanent)
        #expect(failure.status == 404)
        #expect(failure.reason.hasPrefix("batch update of task \(ids[2]) failed (Task not found); sent again alone: PATCH /api/v1/tasks for task \(ids[2]) answered 404"))
        #expect(transport.sent.withLock { $0.last?.path } == "/api/v1/tasks")
    }

    /// A transient per-operation error (the batch call answered 200) is not a dead
    /// letter: sent again alone, the update succeeds.
    @Test func aTransientOperationErrorIsClassifiedLikeASingleRequest() async throws {
        let transport = WorkspaceTransport()
        let ids = try makeTasks(transport, 3)
        transport.failBatchOperation.withLock { $0 = ids[2] }
        let results = try await completeThree(transport, ids)
        #expect(task(try #require(results[2]))?["completed"] == true)
        #expect(transport.workspace.withLock { $0.task(ids[2])?["completed"] } == true)
        guard case .ok(_, let record)? = results[2] else { Issue.record("expected success"); return }
        #expect(record.request.contains("failed in the batch: Internal error (injected); sent again alone"))
    }

    /// A job whose lease is lost before the call leaves is left out of it.
    @Test func anOperationWhoseJobLostItsLeaseIsNotSent() async throws {
        struct Lost: SendGuard {
            func admit(forSeconds seconds: Double) async throws(StepFailure) { throw .lostLease("lost") }
        }
        let transport = WorkspaceTransport()
        let ids = try makeTasks(transport, 3)
        let results = try await completeThree(transport, ids, guards: [2: Lost()])
        guard case .failed(let failure, _)? = results[2] else { Issue.record("expected a failure"); return }
        #expect(failure.leaseLost)
        #expect(transport.workspace.withLock { $0.task(ids[2])?["completed"] } == false)
        #expect(transport.workspace.withLock { $0.task(ids[1])?["completed"] } == true)
    }
}
