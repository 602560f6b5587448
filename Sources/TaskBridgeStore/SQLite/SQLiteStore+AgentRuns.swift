import SQLiteNIO
import TaskBridgeCore

/// Agent runs: one row per run holding its ``AgentRunRecord`` as JSON, plus the columns
/// that are queried; the calls made for each run in `agent_calls`.
extension SQLiteStore {
    static func binds(_ r: AgentRunRecord) -> [SQLiteData] {
        func n(_ v: Int64?) -> SQLiteData { v.map { .integer(Int($0)) } ?? .null }
        return [.text(r.runId), .text(r.agent), .text(r.phase.rawValue), r.outcome.map { .text($0.rawValue) } ?? .null,
                .integer(Int(r.discoveredAtMillis)), n(r.startedAtMillis), n(r.finishedAtMillis), .integer(Int(r.updatedAtMillis)),
                r.totalCostUsd.flatMap { $0.isFinite ? .float($0) : nil } ?? .null, .integer(r.pendingEvents.count), .text(JSONWriter.serialize(r.json))]
    }

    public func insertAgentRun(_ run: AgentRunRecord) async throws -> Bool {
        let binds = Self.binds(run)
        return try await queue.write { db in
            let rows = try await db.query(
                """
                INSERT INTO agent_runs (run_id, agent, phase, outcome, discovered_at, started_at, finished_at, updated_at, cost_usd, pending_events, record)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING RETURNING run_id
                """, binds)
            return !rows.isEmpty
        }
    }

    public func saveAgentRun(_ run: AgentRunRecord, calls: [AgentCallRecord]) async throws {
        let binds = Self.binds(run)
        try await queue.write { db in
            _ = try await db.query(
                """
                INSERT INTO agent_runs (run_id, agent, phase, outcome, discovered_at, started_at, finished_at, updated_at, cost_usd, pending_events, record)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                ON CONFLICT (run_id) DO UPDATE SET phase = ?3, outcome = ?4, started_at = ?6, finished_at = ?7, updated_at = ?8,
                    cost_usd = ?9, pending_events = ?10, record = ?11
                """, binds)
            for c in calls {
                _ = try await db.query(
                    "INSERT INTO agent_calls (run_id, at, api, request, status, latency_ms, response) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [.text(c.runId), .integer(Int(c.atMillis)), .text(c.api), .text(c.request), c.status.map { .integer($0) } ?? .null,
                     .float(c.latencyMillis), c.response.map { .text(String($0.prefix(2000))) } ?? .null])
            }
        }
    }

    static func records(_ rows: [SQLiteRow]) -> [AgentRunRecord] {
        rows.compactMap { row in
            guard let text = row.column("record")?.string, let json = try? JSONParser.parse(Array(text.utf8)) else { return nil }
            return AgentRunRecord(json: json)
        }
    }

    public func agentRun(id: String) async throws -> AgentRunRecord? {
        Self.records(try await reader.query("SELECT record FROM agent_runs WHERE run_id = ?", [.text(id)])).first
    }

    public func listAgentRuns(agent: String?, phase: String?, limit: Int) async throws -> [AgentRunRecord] {
        var clauses: [String] = []
        var binds: [SQLiteData] = []
        if let agent {
            clauses.append("agent = ?")
            binds.append(.text(agent))
        }
        if let phase {
            // A phase, or an outcome of finished runs (`completed`, `failed`, `stopped`).
            clauses.append("(phase = ? OR outcome = ?)")
            binds += [.text(phase), .text(phase)]
        }
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        return Self.records(try await reader.query(
            "SELECT record FROM agent_runs \(whereSQL) ORDER BY discovered_at DESC, run_id DESC LIMIT ?",
            binds + [.integer(max(1, min(limit, 10_000)))]))
    }

    public func openAgentRuns(agent: String) async throws -> [AgentRunRecord] {
        Self.records(try await reader.query(
            "SELECT record FROM agent_runs WHERE agent = ? AND (phase != 'done' OR pending_events > 0) ORDER BY discovered_at, run_id", [.text(agent)]))
    }

    public func agentRunCalls(runId: String, limit: Int) async throws -> [AgentCallRecord] {
        let rows = try await reader.query(
            "SELECT at, api, request, status, latency_ms, response FROM agent_calls WHERE run_id = ? ORDER BY seq LIMIT ?",
            [.text(runId), .integer(max(1, min(limit, 100_000)))])
        return rows.map { row in
            AgentCallRecord(runId: runId, atMillis: Int64(row.column("at")?.integer ?? 0), api: row.column("api")?.string ?? "",
                            request: row.column("request")?.string ?? "", status: row.column("status")?.integer,
                            latencyMillis: row.column("latency_ms")?.double ?? 0, response: row.column("response")?.string)
        }
    }

    public func agentSpendUsd(agent: String, sinceMillis: Int64) async throws -> Double {
        let rows = try await reader.query(
            """
            SELECT COALESCE(SUM(cost_usd), 0) AS spent FROM agent_runs
            WHERE agent = ? AND (started_at >= ? OR (started_at IS NULL AND phase IN ('queued', 'starting')))
            """,
            [.text(agent), .integer(Int(sinceMillis))])
        return rows.first?.column("spent")?.double ?? 0
    }

    public func agentRunCounts() async throws -> [AgentRunCount] {
        let rows = try await reader.query("SELECT agent, phase, outcome, COUNT(*) AS n FROM agent_runs GROUP BY agent, phase, outcome")
        return rows.map {
            AgentRunCount(agent: $0.column("agent")?.string ?? "", phase: $0.column("phase")?.string ?? "",
                          outcome: $0.column("outcome")?.string, count: $0.column("n")?.integer ?? 0)
        }
    }

    /// Finished runs older than `beforeMillis`, with their calls (retention).
    func pruneAgentRuns(_ db: SQLiteConnection, beforeMillis: Int64) async throws {
        _ = try await db.query(
            "DELETE FROM agent_calls WHERE run_id IN (SELECT run_id FROM agent_runs WHERE phase = 'done' AND updated_at < ?)",
            [.integer(Int(beforeMillis))])
        _ = try await db.query("DELETE FROM agent_runs WHERE phase = 'done' AND updated_at < ?", [.integer(Int(beforeMillis))])
    }
}
