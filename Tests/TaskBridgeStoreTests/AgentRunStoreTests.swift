import Foundation
import NIOPosix
import SQLiteNIO
import Testing
import TaskBridgeCore
@testable import TaskBridgeStore

/// Agent runs in a real SQLite store: one row per run, its calls, the queries the runner
/// and the admin API make, retention, and the v3 → v4 migration.
@Suite struct AgentRunStoreTests {
    static func run(_ id: String, agent: String = "coder", at discovered: Int64 = 1_000, phase: AgentRunRecord.Phase = .queued,
                    outcome: AgentRunRecord.Outcome? = nil, startedAt: Int64? = nil, costUsd: Double? = nil, updatedAt: Int64? = nil) -> AgentRunRecord {
        var r = AgentRunRecord(runId: id, agent: agent, taskId: "task-" + id, prompt: "do " + id, backendTarget: "ph", backendKind: "posthog",
                               discoveredAtMillis: discovered)
        r.phase = phase
        r.outcome = outcome
        r.startedAtMillis = startedAt
        r.costUsd = costUsd
        r.updatedAtMillis = updatedAt ?? discovered
        return r
    }

    static func call(_ runId: String, at: Int64, _ request: String, status: Int? = 200, response: String? = "{}") -> AgentCallRecord {
        AgentCallRecord(runId: runId, atMillis: at, api: "groupchat", request: request, status: status, latencyMillis: 12.5, response: response)
    }

    @Test(arguments: TestBackend.all) func aRunIsInsertedOnceAndASecondInsertChangesNothing(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            let first = Self.run("r1")
            #expect(try await store.insertAgentRun(first))
            var again = Self.run("r1", agent: "other", at: 9_000, phase: .working)
            again.prompt = "something else"
            #expect(try await store.insertAgentRun(again) == false)
            #expect(try await store.agentRun(id: "r1") == first)
            #expect(try await store.listAgentRuns(agent: nil, phase: nil, limit: 10).map(\.runId) == ["r1"])
            #expect(try await store.agentRun(id: "nope") == nil)
        }
    }

    @Test(arguments: TestBackend.all) func savingARunUpdatesItsRecordAndAppendsItsCalls(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            var r = Self.run("r1")
            #expect(try await store.insertAgentRun(r))
            r.phase = .working
            r.startedAtMillis = 2_000
            r.updatedAtMillis = 2_001
            r.intent = "start"
            r.backend.waitState = ["phase": "poll", "task": "ph-task-9", "run": "ph-run-1"]
            r.comments = ["working"]
            let calls = [Self.call("r1", at: 2_000, "POST /api/v1/agent/runs/r1/start"),
                         Self.call("r1", at: 2_001, "POST /api/v1/agent/runs/r1/comment", status: nil, response: nil)]
            try await store.saveAgentRun(r, calls: calls)
            #expect(try await store.agentRun(id: "r1") == r)
            #expect(try await store.listAgentRuns(agent: nil, phase: "working", limit: 10) == [r])

            r.phase = .done
            r.outcome = .completed
            r.costUsd = 2
            let long = String(repeating: "x", count: 5_000)
            try await store.saveAgentRun(r, calls: [AgentCallRecord(runId: "r1", atMillis: 3_000, api: "ph", request: "GET /runs/ph-run-1",
                                                                    status: 200, latencyMillis: 40, response: long)])
            #expect(try await store.agentRun(id: "r1") == r)
            let stored = try await store.agentRunCalls(runId: "r1", limit: 100)
            #expect(stored.count == 3)
            #expect(Array(stored.prefix(2)) == calls)
            #expect(stored.last == AgentCallRecord(runId: "r1", atMillis: 3_000, api: "ph", request: "GET /runs/ph-run-1", status: 200,
                                                   latencyMillis: 40, response: String(repeating: "x", count: 2_000)))
            #expect(try await store.agentRunCalls(runId: "r1", limit: 1).map(\.request) == ["POST /api/v1/agent/runs/r1/start"])
            #expect(try await store.agentRunCalls(runId: "r2", limit: 100) == [])
        }
    }

    @Test(arguments: TestBackend.all) func savingARunNotInsertedYetInsertsIt(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            let r = Self.run("r9", phase: .starting)
            try await store.saveAgentRun(r, calls: [])
            #expect(try await store.agentRun(id: "r9") == r)
            #expect(try await store.insertAgentRun(r) == false)
        }
    }

    /// r1…r6 over two agents, every phase and outcome.
    static func seed(_ store: any Store) async throws {
        let runs = [
            run("r1", at: 1_000, phase: .done, outcome: .completed, startedAt: 1_100, costUsd: 1.5),
            run("r2", at: 2_000, phase: .working, startedAt: 2_100, costUsd: nil),
            run("r3", agent: "helper", at: 3_000, phase: .queued),
            run("r4", at: 4_000, phase: .done, outcome: .failed, startedAt: 4_100, costUsd: 2.25),
            run("r5", at: 5_000, phase: .queued),
            run("r6", at: 6_000, phase: .finishing, startedAt: 900, costUsd: 100),
            run("r7", at: 6_000, phase: .done, outcome: .stopped),
        ]
        for r in runs { #expect(try await store.insertAgentRun(r)) }
    }

    @Test(arguments: TestBackend.all) func runsAreListedNewestFirstAndFilteredByAgentAndPhaseOrOutcome(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            try await Self.seed(store)
            func ids(_ agent: String?, _ phase: String?, limit: Int = 100) async throws -> [String] {
                try await store.listAgentRuns(agent: agent, phase: phase, limit: limit).map(\.runId)
            }
            #expect(try await ids(nil, nil) == ["r7", "r6", "r5", "r4", "r3", "r2", "r1"], "same time: the larger id first")
            #expect(try await ids("coder", nil) == ["r7", "r6", "r5", "r4", "r2", "r1"])
            #expect(try await ids("helper", nil) == ["r3"])
            #expect(try await ids(nil, "queued") == ["r5", "r3"])
            #expect(try await ids("coder", "queued") == ["r5"])
            #expect(try await ids(nil, "done") == ["r7", "r4", "r1"])
            #expect(try await ids(nil, "completed") == ["r1"])
            #expect(try await ids(nil, "failed") == ["r4"])
            #expect(try await ids(nil, "stopped") == ["r7"])
            #expect(try await ids("helper", "completed") == [])
            #expect(try await ids(nil, nil, limit: 2) == ["r7", "r6"])
            #expect(try await ids(nil, nil, limit: 0) == ["r7"], "the limit is at least 1")
        }
    }

    @Test(arguments: TestBackend.all) func openRunsAreTheAgentsRunsNotDoneOldestFirst(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            try await Self.seed(store)
            #expect(try await store.openAgentRuns(agent: "coder").map(\.runId) == ["r2", "r5", "r6"])
            #expect(try await store.openAgentRuns(agent: "helper").map(\.runId) == ["r3"])
            #expect(try await store.openAgentRuns(agent: "nobody") == [])
        }
    }

    @Test(arguments: TestBackend.all) func theSpendCountsTheKnownCostsOfRunsStartedSinceTheCutoff(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            try await Self.seed(store)
            // r6 started at 900, before the cutoff; r2 has no cost; r3 is another agent's.
            #expect(try await store.agentSpendUsd(agent: "coder", sinceMillis: 1_000) == 3.75)
            #expect(try await store.agentSpendUsd(agent: "coder", sinceMillis: 1_100) == 3.75, "the cutoff is inclusive")
            #expect(try await store.agentSpendUsd(agent: "coder", sinceMillis: 1_101) == 2.25)
            #expect(try await store.agentSpendUsd(agent: "coder", sinceMillis: 0) == 103.75)
            #expect(try await store.agentSpendUsd(agent: "coder", sinceMillis: 5_000) == 0)
            #expect(try await store.agentSpendUsd(agent: "helper", sinceMillis: 0) == 0)
        }
    }

    @Test(arguments: TestBackend.all) func runsAreCountedByAgentPhaseAndOutcome(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            try await Self.seed(store)
            #expect(try await store.insertAgentRun(Self.run("r8", at: 7_000, phase: .queued)))
            let counts = try await store.agentRunCounts()
            #expect(Set(counts) == [
                AgentRunCount(agent: "coder", phase: "done", outcome: "completed", count: 1),
                AgentRunCount(agent: "coder", phase: "done", outcome: "failed", count: 1),
                AgentRunCount(agent: "coder", phase: "done", outcome: "stopped", count: 1),
                AgentRunCount(agent: "coder", phase: "working", outcome: nil, count: 1),
                AgentRunCount(agent: "coder", phase: "queued", outcome: nil, count: 2),
                AgentRunCount(agent: "coder", phase: "finishing", outcome: nil, count: 1),
                AgentRunCount(agent: "helper", phase: "queued", outcome: nil, count: 1),
            ])
            #expect(counts.count == 7)
        }
    }

    @Test(arguments: TestBackend.all) func retentionRemovesDoneRunsUpdatedBeforeTheCutoffWithTheirCalls(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            let old = Self.run("old-done", at: 1_000, phase: .done, outcome: .completed, updatedAt: 5_000)
            let recent = Self.run("recent-done", at: 1_000, phase: .done, outcome: .failed, updatedAt: 20_000)
            let open = Self.run("old-open", at: 1_000, phase: .working, updatedAt: 5_000)
            for r in [old, recent, open] {
                try await store.saveAgentRun(r, calls: [Self.call(r.runId, at: 1_000, "GET /runs/" + r.runId)])
            }
            _ = try await store.prune(beforeMillis: 10_000)
            #expect(try await store.agentRun(id: "old-done") == nil)
            #expect(try await store.agentRunCalls(runId: "old-done", limit: 10) == [])
            #expect(try await store.agentRun(id: "recent-done") == recent)
            #expect(try await store.agentRunCalls(runId: "recent-done", limit: 10).map(\.request) == ["GET /runs/recent-done"])
            #expect(try await store.agentRun(id: "old-open") == open, "an open run is kept however old")
            #expect(try await store.agentRunCalls(runId: "old-open", limit: 10).count == 1)
        }
    }

    @Test func aDamagedRowIsSkippedNotFatal() async throws {
        try await withSQLiteStore { store, _ async throws in
            try await Self.seed(store)
            try await store.queue.write { db in
                _ = try await db.query("UPDATE agent_runs SET record = ? WHERE run_id = 'r5'", [.text("{\"runId\": 5")])
                _ = try await db.query("UPDATE agent_runs SET record = ? WHERE run_id = 'r2'", [.text("{\"runId\": \"r2\"}")])
            }
            #expect(try await store.agentRun(id: "r5") == nil)
            #expect(try await store.openAgentRuns(agent: "coder").map(\.runId) == ["r6"])
            #expect(try await store.listAgentRuns(agent: "coder", phase: nil, limit: 100).map(\.runId) == ["r7", "r6", "r4", "r1"])
        }
    }

    /// A version-3 database (no agent tables) gets them on open and keeps its events.
    @Test func aVersionThreeDatabaseGetsTheAgentTablesOnOpen() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-migrate-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try await SQLiteStore.open(dataDirectory: dir, synchronous: .normal)
        _ = try await store.ingest(event("e1", key: "1", jobs: [job()]))
        try await store.close()

        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let db = try await SQLiteConnection.open(storage: .file(path: dir + "/" + SQLiteStore.fileName), threadPool: pool,
                                                 on: MultiThreadedEventLoopGroup.singleton.any())
        _ = try await db.query("DROP TABLE agent_calls")
        _ = try await db.query("DROP TABLE agent_runs")
        _ = try await db.query("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        let tables = try await db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'agent%'")
        #expect(tables.isEmpty)
        try await db.close()
        try await pool.shutdownGracefully()

        store = try await SQLiteStore.open(dataDirectory: dir, synchronous: .normal)
        let version = try await store.reader.query("SELECT value FROM meta WHERE key = 'schema_version'").first?.column("value")?.string
        #expect(version == "4")
        let made = try await store.reader.query(
            "SELECT name FROM sqlite_master WHERE name LIKE 'agent%' ORDER BY name").compactMap { $0.column("name")?.string }
        #expect(made == ["agent_calls", "agent_calls_run", "agent_runs", "agent_runs_agent", "agent_runs_started"])
        let r = Self.run("r1", phase: .working, startedAt: 2_000, costUsd: 1)
        #expect(try await store.insertAgentRun(r))
        try await store.saveAgentRun(r, calls: [Self.call("r1", at: 2_000, "POST /start")])
        #expect(try await store.agentRun(id: "r1") == r)
        #expect(try await store.agentRunCalls(runId: "r1", limit: 10).count == 1)
        #expect(try await store.listEvents(EventFilter()).map(\.id) == ["e1"])
        try await store.close()
    }
}
