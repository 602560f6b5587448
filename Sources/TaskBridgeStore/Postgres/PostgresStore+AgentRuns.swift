import PostgresNIO
import TaskBridgeCore

/// Agent runs as in ``SQLiteStore``: one row per run (deduped by its primary key) with
/// the ``AgentRunRecord`` as JSON, and the calls made for it.
extension PostgresStore {
    /// The record's columns as placeholders, in the table's column order.
    static func values(_ r: AgentRunRecord, _ s: inout PostgresStatement) -> String {
        [s.bind(r.runId), s.bind(r.agent), s.bind(r.phase.rawValue), s.bind(r.outcome?.rawValue), s.bind(r.discoveredAtMillis),
         s.bind(r.startedAtMillis), s.bind(r.finishedAtMillis), s.bind(r.updatedAtMillis),
         s.bind(r.totalCostUsd.flatMap { $0.isFinite ? $0 : nil }), s.bind(r.pendingEvents.count), s.bind(JSONWriter.serialize(r.json))]
            .joined(separator: ", ")
    }

    static let runColumns = "run_id, agent, phase, outcome, discovered_at, started_at, finished_at, updated_at, cost_usd, pending_events, record"

    public func insertAgentRun(_ run: AgentRunRecord) async throws -> Bool {
        var s = PostgresStatement()
        s.append("INSERT INTO agent_runs (\(Self.runColumns)) VALUES (\(Self.values(run, &s))) ON CONFLICT (run_id) DO NOTHING RETURNING run_id")
        return !(try await rows(s).isEmpty)
    }

    public func saveAgentRun(_ run: AgentRunRecord, calls: [AgentCallRecord]) async throws {
        var s = PostgresStatement()
        s.append("""
            WITH r AS (INSERT INTO agent_runs (\(Self.runColumns)) VALUES (\(Self.values(run, &s)))
                ON CONFLICT (run_id) DO UPDATE SET phase = EXCLUDED.phase, outcome = EXCLUDED.outcome, started_at = EXCLUDED.started_at,
                    finished_at = EXCLUDED.finished_at, updated_at = EXCLUDED.updated_at, cost_usd = EXCLUDED.cost_usd,
                    pending_events = EXCLUDED.pending_events, record = EXCLUDED.record)
            """)
        if !calls.isEmpty {
            s.append(", c AS (INSERT INTO agent_calls (run_id, at, api, request, status, latency_ms, response) VALUES ")
            for (i, c) in calls.enumerated() {
                let v = [s.bind(c.runId), s.bind(c.atMillis), s.bind(c.api), s.bind(c.request), s.bind(c.status), s.bind(c.latencyMillis),
                         s.bind(c.response.map { String($0.prefix(2000)) })]
                s.append((i == 0 ? "(" : ", (") + v.joined(separator: ", ") + ")")
            }
            s.append(")")
        }
        s.append(" SELECT 1")
        _ = try await rows(s)
    }

    static func records(_ rows: [PostgresColumns]) -> [AgentRunRecord] {
        rows.compactMap { row in
            guard let text = row.string("record"), let json = try? JSONParser.parse(Array(text.utf8)) else { return nil }
            return AgentRunRecord(json: json)
        }
    }

    public func agentRun(id: String) async throws -> AgentRunRecord? {
        Self.records(try await rows("SELECT record FROM agent_runs WHERE run_id = \(id)")).first
    }

    public func listAgentRuns(agent: String?, phase: String?, limit: Int) async throws -> [AgentRunRecord] {
        var s = PostgresStatement()
        var clauses: [String] = []
        if let agent { clauses.append("agent = \(s.bind(agent))") }
        if let phase {
            let p = s.bind(phase)
            clauses.append("(phase = \(p) OR outcome = \(p))")
        }
        s.append("SELECT record FROM agent_runs \(clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")) ORDER BY discovered_at DESC, run_id DESC LIMIT \(s.bind(max(1, min(limit, 10_000))))")
        return Self.records(try await rows(s))
    }

    public func openAgentRuns(agent: String) async throws -> [AgentRunRecord] {
        Self.records(try await rows(
            "SELECT record FROM agent_runs WHERE agent = \(agent) AND (phase != 'done' OR pending_events > 0) ORDER BY discovered_at, run_id"))
    }

    public func agentRunCalls(runId: String, limit: Int) async throws -> [AgentCallRecord] {
        let limit = max(1, min(limit, 100_000))
        return try await rows("SELECT at, api, request, status, latency_ms, response FROM agent_calls WHERE run_id = \(runId) ORDER BY seq LIMIT \(limit)").map {
            AgentCallRecord(runId: runId, atMillis: $0.int64("at") ?? 0, api: $0.string("api") ?? "", request: $0.string("request") ?? "",
                            status: $0.int("status"), latencyMillis: $0.double("latency_ms") ?? 0, response: $0.string("response"))
        }
    }

    public func agentSpendUsd(agent: String, sinceMillis: Int64) async throws -> Double {
        try await rows("""
            SELECT COALESCE(SUM(cost_usd), 0)::double precision AS spent FROM agent_runs
            WHERE agent = \(agent) AND (started_at >= \(sinceMillis) OR (started_at IS NULL AND phase IN ('queued', 'starting')))
            """).first?.double("spent") ?? 0
    }

    public func agentRunCounts() async throws -> [AgentRunCount] {
        try await rows("SELECT agent, phase, outcome, COUNT(*) AS n FROM agent_runs GROUP BY agent, phase, outcome").map {
            AgentRunCount(agent: $0.string("agent") ?? "", phase: $0.string("phase") ?? "", outcome: $0.string("outcome"), count: $0.int("n") ?? 0)
        }
    }
}
