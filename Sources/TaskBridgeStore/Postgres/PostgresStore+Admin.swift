import PostgresNIO
import TaskBridgeCore

extension PostgresStore {
    public func listEvents(_ f: EventFilter) async throws -> [EventSummary] {
        var s = PostgresStatement()
        let clauses = JobSQL.eventClauses(f) { Self.bind($0, &s) }
        let limit = s.bind(max(1, min(f.limit, 1000)))
        s.append(JobSQL.eventList(clauses, limit: limit))
        return try await rows(s).map {
            EventSummary(id: $0.string("id") ?? "", source: $0.string("source") ?? "", type: $0.string("type") ?? "",
                         dedupeKey: $0.string("dedupe_key"), receivedAtMillis: $0.int64("received_at") ?? 0,
                         status: $0.string("status") ?? "", jobs: $0.int("jobs") ?? 0,
                         delivery: $0.string("delivery") ?? "", cursor: $0.int64("seq") ?? 0)
        }
    }

    static func jobSummary(_ row: PostgresColumns) -> JobSummary {
        JobSummary(id: row.string("id") ?? "", eventId: row.string("event_id") ?? "", source: row.string("source") ?? "",
                   type: row.string("type") ?? "", ruleId: row.string("rule_id") ?? "", target: row.string("target") ?? "",
                   orderingKey: row.string("ordering_key"), state: row.string("state") ?? "", step: row.int("step") ?? 0,
                   attempts: row.int("attempts") ?? 0, dueAtMillis: row.int64("due_at") ?? 0, createdAtMillis: row.int64("created_at") ?? 0,
                   updatedAtMillis: row.int64("updated_at") ?? 0, lastError: row.string("last_error"), outputs: row.string("outputs") ?? "{}",
                   ruleVersion: row.string("rule_version") ?? "", generation: row.int("generation") ?? 0)
    }

    public func eventDetail(id: String) async throws -> EventDetail? {
        guard let row = try await rows(
            "SELECT seq, id, source, type, dedupe_key, received_at, client_ip, headers, content_type, body, status FROM events WHERE id = \(id)").first
        else { return nil }
        let event = Self.event(row)
        let jobRows = try await rows(PostgresQuery(
            unsafeSQL: "SELECT \(JobSQL.summaryColumns) FROM jobs j JOIN events e ON e.seq = j.event_seq WHERE j.event_seq = $1 ORDER BY j.seq",
            binds: { var b = PostgresBindings(); b.append(event.seq); return b }()))
        var attempts: [String: [AttemptRecord]] = [:]
        var jobs: [JobSummary] = []
        for jr in jobRows {
            let job = Self.jobSummary(jr)
            jobs.append(job)
            let seq = jr.int64("seq") ?? 0
            attempts[job.id] = try await rows(
                "SELECT step, started_at, latency_ms, status, outcome, error, request, response FROM attempts WHERE job_seq = \(seq) ORDER BY seq"
            ).map {
                AttemptRecord(step: $0.int("step") ?? 0, startedAtMillis: $0.int64("started_at") ?? 0, latencyMillis: $0.double("latency_ms") ?? 0,
                              status: $0.int("status"), outcome: $0.string("outcome") ?? "", error: $0.string("error"),
                              request: $0.string("request"), response: $0.string("response"))
            }
        }
        return EventDetail(event: event, jobs: jobs, attempts: attempts)
    }

    static func jobWhere(_ f: JobFilter, _ s: inout PostgresStatement) -> String {
        JobSQL.jobWhere(f) { bind($0, &s) }
    }

    static func bind(_ value: JobSQL.FilterValue, _ s: inout PostgresStatement) -> String {
        switch value {
        case .text(let t): s.bind(t)
        case .integer(let i): s.bind(i)
        }
    }

    public func listJobs(_ f: JobFilter) async throws -> [JobSummary] {
        var s = PostgresStatement()
        let whereSQL = Self.jobWhere(f, &s)
        s.append("SELECT \(JobSQL.summaryColumns) FROM jobs j JOIN events e ON e.seq = j.event_seq \(whereSQL) ORDER BY j.seq DESC LIMIT \(s.bind(max(1, min(f.limit, 1000))))")
        return try await rows(s).map(Self.jobSummary)
    }

    /// As ``SQLiteStore/retryJob(id:nowMillis:)``; other replicas are woken at commit.
    public func retryJob(id: String, nowMillis: Int64) async throws -> Bool {
        try await transaction { conn in
            var s = PostgresStatement()
            let now = s.bind(nowMillis)
            s.append("""
                UPDATE jobs SET state = '\(JobTransition.retried.rawValue)', due_at = \(now), first_due_at = \(now), attempts = 0, last_error = NULL,
                    updated_at = \(now), crashes = LEAST(crashes, 1), wait_state = CASE WHEN state = 'dead' THEN NULL ELSE wait_state END
                WHERE id = \(s.bind(id)) AND state IN ('\(JobState.dead.rawValue)', '\(JobState.pending.rawValue)') RETURNING seq
                """)
            let done = !(try await rows(s, on: conn).isEmpty)
            if done { try await notifyWork(on: conn) }
            return done
        }
    }

    public func retryDeadJobs(_ filter: JobFilter, nowMillis: Int64) async throws -> Int {
        var f = filter
        f.state = JobState.dead.rawValue
        return try await transaction { conn in
            var s = PostgresStatement()
            let now = s.bind(nowMillis)
            let whereSQL = Self.jobWhere(f, &s)
            s.append("""
                UPDATE jobs SET state = '\(JobTransition.retried.rawValue)', due_at = \(now), first_due_at = \(now), attempts = 0, last_error = NULL,
                    updated_at = \(now), crashes = LEAST(crashes, 1), wait_state = NULL
                WHERE state = '\(JobState.dead.rawValue)' AND seq IN (SELECT j.seq FROM jobs j JOIN events e ON e.seq = j.event_seq \(whereSQL))
                RETURNING seq
                """)
            let n = try await rows(s, on: conn).count
            if n > 0 { try await notifyWork(on: conn) }
            return n
        }
    }

    public func addJobs(eventId: String, jobs: [PlannedJob], nowMillis: Int64) async throws -> [String] {
        try await transaction { conn in
            try await lockOrderingKeys(jobs, on: conn)
            // The event row is locked so two replays of one event take distinct generations.
            guard let seq = try await conn.query("SELECT seq FROM events WHERE id = \(eventId) FOR UPDATE", logger: logger).columns().first?.int64("seq") else {
                throw StoreError("no event \(eventId)")
            }
            let generation = try await conn.query("SELECT COALESCE(MAX(generation), 0) + 1 AS g FROM jobs WHERE event_seq = \(seq)",
                                                  logger: logger).columns().first?.int("g") ?? 1
            let ids = try await insertJobs(jobs.map { (seq, nowMillis, $0) }, generation: generation, on: conn)
            if !jobs.isEmpty { _ = try await conn.query("UPDATE events SET status = 'planned' WHERE seq = \(seq)", logger: logger) }
            return ids
        }
    }

    /// Prunes in chunks so a large backlog never holds locks for long.
    public func prune(beforeMillis: Int64) async throws -> PruneResult {
        var total = PruneResult(events: 0, jobs: 0, attempts: 0)
        try await transaction { conn in
            _ = try await conn.query("""
                DELETE FROM agent_calls WHERE run_id IN (SELECT run_id FROM agent_runs WHERE phase = 'done' AND updated_at < \(beforeMillis))
                """, logger: logger)
            _ = try await conn.query("DELETE FROM agent_runs WHERE phase = 'done' AND updated_at < \(beforeMillis)", logger: logger)
        }
        while true {
            let (chunk, scanned) = try await transaction { conn -> (PruneResult, Int) in
                let seqs = try await conn.query("""
                    SELECT e.seq FROM events e WHERE e.received_at < \(beforeMillis)
                      AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.event_seq = e.seq AND k.state != 'succeeded')
                    ORDER BY e.seq LIMIT 2000 FOR UPDATE SKIP LOCKED
                    """, logger: logger).columns().compactMap { $0.int64("seq") }
                if seqs.isEmpty { return (PruneResult(events: 0, jobs: 0, attempts: 0), 0) }
                // The scan judged "all succeeded" from its own snapshot: a replay that
                // committed before the rows were locked added jobs it could not see. This
                // new statement sees them; events with new jobs are kept (a replay now
                // waits for this lock, so none can be added after it).
                let prunable = try await conn.query("""
                    SELECT e.seq FROM events e WHERE e.seq = ANY(\(seqs))
                      AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.event_seq = e.seq AND k.state != 'succeeded')
                    """, logger: logger).columns().compactMap { $0.int64("seq") }
                let attempts = try await conn.query(
                    "DELETE FROM attempts WHERE job_seq IN (SELECT seq FROM jobs WHERE event_seq = ANY(\(prunable))) RETURNING seq", logger: logger).columns().count
                let jobs = try await conn.query("DELETE FROM jobs WHERE event_seq = ANY(\(prunable)) RETURNING seq", logger: logger).columns().count
                let events = try await conn.query("DELETE FROM events WHERE seq = ANY(\(prunable)) RETURNING seq", logger: logger).columns().count
                // A full chunk scanned means there may be more, however many were kept.
                return (PruneResult(events: events, jobs: jobs, attempts: attempts), seqs.count)
            }
            total.events += chunk.events
            total.jobs += chunk.jobs
            total.attempts += chunk.attempts
            if scanned < 2000 { return total }
        }
    }
}
