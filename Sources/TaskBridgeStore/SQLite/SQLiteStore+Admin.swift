import SQLiteNIO
import TaskBridgeCore

extension SQLiteStore {
    public func listEvents(_ f: EventFilter) async throws -> [EventSummary] {
        var binds: [SQLiteData] = []
        let clauses = JobSQL.eventClauses(f) { binds.append(Self.data($0)); return "?" }
        binds.append(.integer(max(1, min(f.limit, 1000))))
        let rows = try await reader.query(JobSQL.eventList(clauses, limit: "?"), binds)
        return rows.map {
            EventSummary(id: $0.column("id")?.string ?? "", source: $0.column("source")?.string ?? "",
                         type: $0.column("type")?.string ?? "", dedupeKey: $0.column("dedupe_key")?.string,
                         receivedAtMillis: Int64($0.column("received_at")?.integer ?? 0),
                         status: $0.column("status")?.string ?? "", jobs: $0.column("jobs")?.integer ?? 0,
                         delivery: $0.column("delivery")?.string ?? "", cursor: Int64($0.column("seq")?.integer ?? 0))
        }
    }

    static func jobSummary(_ row: SQLiteRow) -> JobSummary {
        JobSummary(id: row.column("id")?.string ?? "", eventId: row.column("event_id")?.string ?? "",
                   source: row.column("source")?.string ?? "", type: row.column("type")?.string ?? "",
                   ruleId: row.column("rule_id")?.string ?? "", target: row.column("target")?.string ?? "",
                   orderingKey: row.column("ordering_key")?.string, state: row.column("state")?.string ?? "",
                   step: row.column("step")?.integer ?? 0, attempts: row.column("attempts")?.integer ?? 0,
                   dueAtMillis: Int64(row.column("due_at")?.integer ?? 0),
                   createdAtMillis: Int64(row.column("created_at")?.integer ?? 0),
                   updatedAtMillis: Int64(row.column("updated_at")?.integer ?? 0),
                   lastError: row.column("last_error")?.string, outputs: row.column("outputs")?.string ?? "{}",
                   ruleVersion: row.column("rule_version")?.string ?? "", generation: row.column("generation")?.integer ?? 0)
    }

    public func eventDetail(id: String) async throws -> EventDetail? {
        let rows = try await reader.query(
            "SELECT seq, id, source, type, dedupe_key, received_at, client_ip, headers, content_type, body, status FROM events WHERE id = ?",
            [.text(id)])
        guard let row = rows.first else { return nil }
        let event = Self.event(row)
        let jobRows = try await reader.query(
            "SELECT \(JobSQL.summaryColumns) FROM jobs j JOIN events e ON e.seq = j.event_seq WHERE j.event_seq = ? ORDER BY j.seq",
            [.integer(Int(event.seq))])
        var attempts: [String: [AttemptRecord]] = [:]
        var jobs: [JobSummary] = []
        for jr in jobRows {
            let job = Self.jobSummary(jr)
            jobs.append(job)
            let seq = jr.column("seq")?.integer ?? 0
            attempts[job.id] = try await reader.query(
                "SELECT step, started_at, latency_ms, status, outcome, error, request, response FROM attempts WHERE job_seq = ? ORDER BY seq",
                [.integer(seq)]).map {
                AttemptRecord(step: $0.column("step")?.integer ?? 0,
                              startedAtMillis: Int64($0.column("started_at")?.integer ?? 0),
                              latencyMillis: $0.column("latency_ms")?.double ?? 0,
                              status: $0.column("status")?.integer, outcome: $0.column("outcome")?.string ?? "",
                              error: $0.column("error")?.string, request: $0.column("request")?.string,
                              response: $0.column("response")?.string)
            }
        }
        return EventDetail(event: event, jobs: jobs, attempts: attempts)
    }

    static func jobWhere(_ f: JobFilter) -> (String, [SQLiteData]) {
        var binds: [SQLiteData] = []
        let sql = JobSQL.jobWhere(f) { binds.append(Self.data($0)); return "?" }
        return (sql, binds)
    }

    static func data(_ value: JobSQL.FilterValue) -> SQLiteData {
        switch value {
        case .text(let t): .text(t)
        case .integer(let i): .integer(Int(i))
        }
    }

    public func listJobs(_ f: JobFilter) async throws -> [JobSummary] {
        let (whereSQL, binds) = Self.jobWhere(f)
        let rows = try await reader.query(
            "SELECT \(JobSQL.summaryColumns) FROM jobs j JOIN events e ON e.seq = j.event_seq \(whereSQL) ORDER BY j.seq DESC LIMIT ?",
            binds + [.integer(max(1, min(f.limit, 1000)))])
        return rows.map(Self.jobSummary)
    }

    /// A retried dead letter runs its step afresh: a step that waited on an upstream job
    /// (a PostHog run, a Zylon chat) forgets the one it followed, which failed, and starts
    /// a new one. A pending job keeps what it follows.
    public func retryJob(id: String, nowMillis: Int64) async throws -> Bool {
        try await queue.write { db in
            let rows = try await db.query(
                """
                UPDATE jobs SET state = 'pending', due_at = ?1, first_due_at = ?1, attempts = 0, last_error = NULL, updated_at = ?1,
                    crashes = MIN(crashes, 1), wait_state = CASE WHEN state = 'dead' THEN NULL ELSE wait_state END
                WHERE id = ?2 AND state IN ('dead', 'pending') RETURNING seq
                """, [.integer(Int(nowMillis)), .text(id)])
            return !rows.isEmpty
        }
    }

    public func retryDeadJobs(_ filter: JobFilter, nowMillis: Int64) async throws -> Int {
        var f = filter
        f.state = "dead"
        let (whereSQL, binds) = Self.jobWhere(f)
        return try await queue.write { db in
            let rows = try await db.query(
                """
                UPDATE jobs SET state = 'pending', due_at = ?, first_due_at = ?, attempts = 0, last_error = NULL, updated_at = ?,
                    crashes = MIN(crashes, 1), wait_state = NULL
                WHERE seq IN (SELECT j.seq FROM jobs j JOIN events e ON e.seq = j.event_seq \(whereSQL)) RETURNING seq
                """, [.integer(Int(nowMillis)), .integer(Int(nowMillis)), .integer(Int(nowMillis))] + binds)
            return rows.count
        }
    }

    public func addJobs(eventId: String, jobs: [PlannedJob], nowMillis: Int64) async throws -> [String] {
        try await queue.write { db in
            guard let seq = try await db.query("SELECT seq FROM events WHERE id = ?", [.text(eventId)]).first?.column("seq")?.integer else {
                throw StoreError("no event \(eventId)")
            }
            // A replay is new work: a new generation gives its steps new idempotency keys.
            let generation = try await db.query("SELECT COALESCE(MAX(generation), 0) + 1 AS g FROM jobs WHERE event_seq = ?",
                                                [.integer(seq)]).first?.column("g")?.integer ?? 1
            let ids = try await SQLiteIngest.insertJobs(jobs.map { (Int64(seq), nowMillis, $0) }, generation: generation, on: db)
            if !jobs.isEmpty {
                _ = try await db.query("UPDATE events SET status = 'planned' WHERE seq = ?", [.integer(seq)])
            }
            return ids
        }
    }

    /// Prunes in chunks so a large backlog never holds the writer for long.
    public func prune(beforeMillis: Int64) async throws -> PruneResult {
        var total = PruneResult(events: 0, jobs: 0, attempts: 0)
        try await queue.write { db in try await self.pruneAgentRuns(db, beforeMillis: beforeMillis) }
        while true {
            let chunk = try await queue.write { db -> PruneResult in
                let seqs = try await db.query(
                    """
                    SELECT e.seq FROM events e WHERE e.received_at < ?
                      AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.event_seq = e.seq AND k.state != 'succeeded')
                    ORDER BY e.seq LIMIT 2000
                    """, [.integer(Int(beforeMillis))]).compactMap { $0.column("seq")?.integer }
                if seqs.isEmpty { return PruneResult(events: 0, jobs: 0, attempts: 0) }
                let list = seqs.map(String.init).joined(separator: ",")
                let attempts = try await db.query(
                    "DELETE FROM attempts WHERE job_seq IN (SELECT seq FROM jobs WHERE event_seq IN (\(list))) RETURNING seq").count
                let jobs = try await db.query("DELETE FROM jobs WHERE event_seq IN (\(list)) RETURNING seq").count
                let events = try await db.query("DELETE FROM events WHERE seq IN (\(list)) RETURNING seq").count
                return PruneResult(events: events, jobs: jobs, attempts: attempts)
            }
            total.events += chunk.events
            total.jobs += chunk.jobs
            total.attempts += chunk.attempts
            if chunk.events < 2000 { return total }
        }
    }
}
