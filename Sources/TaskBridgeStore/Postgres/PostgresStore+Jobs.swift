import PostgresNIO
import TaskBridgeCore

extension PostgresStore {
    // MARK: Ingest

    /// The event (deduped by the `(source, dedupe_key)` constraint — a concurrent
    /// duplicate on another replica waits for the first commit, then finds it), its jobs,
    /// and a notification that wakes the other replicas at commit. Jobs with an ordering
    /// key need their key's lock first, so they take a transaction; anything else is one
    /// statement.
    public func ingest(_ e: PlannedEvent) async throws -> IngestOutcome {
        if e.jobs.allSatisfy({ $0.orderingKey == nil }) {
            var s = PostgresStatement("WITH e AS (")
            s.append(Self.eventInsert(e, &s))
            if !e.jobs.isEmpty {
                let rows = e.jobs.map { job -> String in
                    "(" + Self.jobValues(id: Identifier.make(prefix: "job", millis: e.receivedAtMillis), eventSeq: nil, at: e.receivedAtMillis,
                                         job: job, generation: 0, &s).joined(separator: ", ") + ")"
                }
                s.append("""
                    ), j AS (INSERT INTO jobs (\(JobSQL.insertColumns))
                        SELECT v.c1, e.seq, v.c3, v.c4, v.c5, v.c6, v.c7, v.c8, v.c9, v.c10, v.c11, v.c12, v.c13, v.c14, v.c15, v.c16
                        FROM e CROSS JOIN (VALUES \(rows.joined(separator: ", "))) AS v(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16)
                        RETURNING 1),
                    n AS (SELECT pg_notify(\(s.bind(PostgresSchema.workChannel)), '') FROM e WHERE EXISTS (SELECT 1 FROM j)
                    """)
                s.append(") SELECT (SELECT seq FROM e) AS seq, (SELECT COUNT(*) FROM n) AS woken")
            } else {
                s.append(") SELECT seq FROM e")
            }
            if try await rows(s).first?.int64("seq") != nil {
                return IngestOutcome(eventId: e.id, duplicate: false, jobsPlanned: e.jobs.count)
            }
            return IngestOutcome(eventId: try await firstEventId(e), duplicate: true, jobsPlanned: 0)
        }
        return try await transaction { conn in
            try await lockOrderingKeys(e.jobs, on: conn)
            var s = PostgresStatement()
            s.append(Self.eventInsert(e, &s))
            if let seq = try await rows(s, on: conn).first?.int64("seq") {
                _ = try await insertJobs(e.jobs.map { (seq, e.receivedAtMillis, $0) }, generation: 0, on: conn)
                return IngestOutcome(eventId: e.id, duplicate: false, jobsPlanned: e.jobs.count)
            }
            return IngestOutcome(eventId: try await firstEventId(e, on: conn), duplicate: true, jobsPlanned: 0)
        }
    }

    static func eventInsert(_ e: PlannedEvent, _ s: inout PostgresStatement) -> String {
        "INSERT INTO events (id, source, type, dedupe_key, received_at, client_ip, headers, content_type, body, status) VALUES ("
            + [s.bind(e.id), s.bind(e.source), s.bind(e.type), s.bind(e.dedupeKey), s.bind(e.receivedAtMillis), s.bind(e.clientIP),
               s.bind(JSONWriter.serialize(.object(e.headers.mapValues(JSONValue.string)))), s.bind(e.contentType),
               s.bind(ByteBuffer(bytes: e.body)), s.bind(e.status.rawValue)].joined(separator: ", ")
            + ") ON CONFLICT ON CONSTRAINT events_dedupe DO NOTHING RETURNING seq"
    }

    /// A repeat: the event stored first with the dedupe key.
    func firstEventId(_ e: PlannedEvent, on conn: PostgresConnection? = nil) async throws -> String {
        var q = PostgresStatement()
        q.append("SELECT id FROM events WHERE source = \(q.bind(e.source)) AND dedupe_key = \(q.bind(e.dedupeKey))")
        let found: String?
        if let conn { found = try await rows(q, on: conn).first?.string("id") } else { found = try await rows(q).first?.string("id") }
        guard let found else { throw StoreError("event insert was skipped but no event holds its dedupe key") }
        return found
    }

    /// Jobs of one ordering key are added one transaction at a time, so a later job's
    /// seq is taken only after the earlier one committed: a claim on any replica that
    /// sees a job also sees every earlier job of its key (per-key FIFO across replicas).
    /// The locks are taken in one statement in the order of their lock keys (the keys'
    /// hashes), so two transactions cannot deadlock.
    func lockOrderingKeys(_ jobs: [PlannedJob], on conn: PostgresConnection) async throws {
        let keys = Array(Set(jobs.compactMap(\.orderingKey)))
        guard !keys.isEmpty else { return }
        var s = PostgresStatement()
        s.append("""
            SELECT pg_advisory_xact_lock(\(PostgresSchema.Lock.orderingKeyClass), h)
            FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest(\(s.bind(keys))::text[]) AS k ORDER BY h) AS keys
            """)
        _ = try await rows(s, on: conn)
    }

    /// A new job's values in ``JobSQL/insertColumns`` order (the event's seq as a placeholder, or
    /// `NULL` when the statement takes it from the event it inserts).
    static func jobValues(id: String, eventSeq: Int64?, at: Int64, job: PlannedJob, generation: Int, _ s: inout PostgresStatement) -> [String] {
        [s.bind(id), eventSeq.map { s.bind($0) } ?? "NULL::bigint", s.bind(job.ruleId), s.bind(job.ruleVersion), s.bind(job.target), s.bind(job.orderingKey),
         s.bind(JSONWriter.serialize(.object(job.captures.mapValues(JSONValue.string)))), "'\(JobState.pending.rawValue)'", "0", "'{}'", "0",
         s.bind(at), s.bind(at), s.bind(at), s.bind(at), s.bind(generation)]
    }

    /// Inserts jobs and notifies the other replicas (at commit). Returns their ids.
    func insertJobs(_ jobs: [(seq: Int64, atMillis: Int64, job: PlannedJob)], generation: Int,
                    on conn: PostgresConnection) async throws -> [String] {
        guard !jobs.isEmpty else { return [] }
        var ids: [String] = []
        var start = 0
        while start < jobs.count {
            let end = min(jobs.count, start + 400)
            var s = PostgresStatement("INSERT INTO jobs (\(JobSQL.insertColumns)) VALUES ")
            for n in start..<end {
                let (seq, at, job) = jobs[n]
                let id = Identifier.make(prefix: "job", millis: at)
                ids.append(id)
                let values = Self.jobValues(id: id, eventSeq: seq, at: at, job: job, generation: generation, &s)
                s.append((n == start ? "(" : ",(") + values.joined(separator: ", ") + ")")
            }
            _ = try await rows(s, on: conn)
            start = end
        }
        try await notifyWork(on: conn)
        return ids
    }

    func notifyWork(on conn: PostgresConnection) async throws {
        _ = try await conn.query("SELECT pg_notify(\(PostgresSchema.workChannel), '')", logger: logger)
    }

    // MARK: Claims and leases

    public func recoverJobs(expiredBeforeMillis: Int64?, maxCrashes: Int, nowMillis: Int64) async throws -> RecoveryResult {
        var s = PostgresStatement()
        let max = s.bind(Swift.max(1, maxCrashes)), now = s.bind(nowMillis), before = s.bind(expiredBeforeMillis)
        // See SQLiteStore.recoverJobs: only a run alone in its process counts as a crash.
        let poisoned = "(solo = 1 AND crashes + 1 >= \(max))"
        s.append("""
            UPDATE jobs SET crashes = CASE WHEN solo = 1 THEN crashes + 1 ELSE GREATEST(crashes, 1) END,
                state = CASE WHEN \(poisoned) THEN '\(JobState.running.on(.fail)?.rawValue ?? "dead")' ELSE '\(JobTransition.recovered.rawValue)' END,
                attempts = CASE WHEN \(poisoned) THEN attempts + 1 ELSE attempts END,
                last_error = CASE WHEN \(poisoned)
                    THEN 'poison job: its run was cut short by a process crash ' || (crashes + 1) || ' times (the last time while it ran alone, at step ' || step || '); set aside so it cannot crash the service again — inspect the event, then retry or replay it'
                    ELSE last_error END,
                uncertain = 1, solo = 0, lease_owner = NULL, lease_until = NULL, updated_at = \(now)
            WHERE state = '\(JobState.running.rawValue)' AND (\(before)::bigint IS NULL OR lease_until < \(before))
            RETURNING state, target
            """)
        var result = RecoveryResult()
        for row in try await rows(s) {
            if row.string("state") == JobState.dead.rawValue { result.poisonedTargets.append(row.string("target") ?? "") } else { result.suspects += 1 }
        }
        return result
    }

    public func claimJobs(target: String, limit: Int, owner: String, nowMillis: Int64, leaseMillis: Int64) async throws -> [ClaimedJob] {
        guard limit > 0 else { return [] }
        var s = PostgresStatement()
        let now = s.bind(nowMillis)
        s.append("""
            UPDATE jobs SET state = '\(JobState.running.rawValue)', lease_owner = \(s.bind(owner)), lease_until = \(s.bind(nowMillis + leaseMillis)),
                updated_at = \(now), fence = fence + 1
            WHERE seq IN (
                SELECT j.seq FROM jobs j
                WHERE j.target = \(s.bind(target)) AND j.state IN (\(JobSQL.openStates))
                  AND j.state IN (\(JobSQL.claimableStates)) AND j.due_at <= \(now) AND j.crashes = 0
                  AND \(JobSQL.firstOfKey)
                ORDER BY j.seq LIMIT \(s.bind(limit)) FOR UPDATE OF j SKIP LOCKED)
            RETURNING \(JobSQL.claimedColumns)
            """)
        return try await rows(s).map { Self.claimed($0, owner: owner) }.sorted { $0.seq < $1.seq }
    }

    public func claimSuspect(targets: [String], owner: String, nowMillis: Int64, leaseMillis: Int64) async throws -> ClaimedJob? {
        guard !targets.isEmpty else { return nil }
        var s = PostgresStatement()
        let now = s.bind(nowMillis)
        s.append("""
            UPDATE jobs SET state = '\(JobState.running.rawValue)', lease_owner = \(s.bind(owner)), lease_until = \(s.bind(nowMillis + leaseMillis)),
                updated_at = \(now), fence = fence + 1, solo = 1
            WHERE seq = (
                SELECT j.seq FROM jobs j
                WHERE j.state = '\(JobState.pending.rawValue)' AND j.crashes > 0 AND j.due_at <= \(now) AND j.target = ANY(\(s.bind(targets)))
                  AND \(JobSQL.firstOfKey)
                ORDER BY j.seq LIMIT 1 FOR UPDATE OF j SKIP LOCKED)
            RETURNING \(JobSQL.claimedColumns)
            """)
        return try await rows(s).first.map { Self.claimed($0, owner: owner) }
    }

    public func renewLeases(_ leases: [LeaseRef], untilMillis: Int64, nowMillis: Int64) async throws -> Set<Int64> {
        guard !leases.isEmpty else { return [] }
        var s = PostgresStatement()
        s.append("""
            UPDATE jobs SET lease_until = GREATEST(lease_until, \(s.bind(untilMillis))), updated_at = \(s.bind(nowMillis))
            FROM unnest(\(s.bind(leases.map(\.jobSeq)))::bigint[], \(s.bind(leases.map(\.fence)))::bigint[]) AS v(seq, fence)
            WHERE jobs.seq = v.seq AND jobs.fence = v.fence AND jobs.state = '\(JobState.running.rawValue)' RETURNING jobs.seq
            """)
        return Set(try await rows(s).compactMap { $0.int64("seq") })
    }

    static func claimed(_ row: PostgresColumns, owner: String) -> ClaimedJob {
        ClaimedJob(
            seq: row.int64("seq") ?? 0, id: row.string("id") ?? "", eventSeq: row.int64("event_seq") ?? 0,
            ruleId: row.string("rule_id") ?? "", ruleVersion: row.string("rule_version") ?? "", target: row.string("target") ?? "",
            orderingKey: row.string("ordering_key"), captures: StoreJSON.stringMap(row.string("captures")),
            step: row.int("step") ?? 0, outputs: StoreJSON.jsonObject(row.string("outputs")), attempts: row.int("attempts") ?? 0,
            firstDueAtMillis: row.int64("first_due_at") ?? 0, uncertain: (row.int("uncertain") ?? 0) != 0, leaseOwner: owner,
            fence: row.int64("fence") ?? 0, leaseUntilMillis: row.int64("lease_until") ?? 0, generation: row.int("generation") ?? 0,
            solo: (row.int("solo") ?? 0) != 0, waitState: row.string("wait_state").flatMap { try? JSONParser.parse($0) })
    }

    public func events(seqs: [Int64]) async throws -> [Int64: StoredEvent] {
        guard !seqs.isEmpty else { return [:] }
        var s = PostgresStatement()
        s.append("SELECT seq, id, source, type, dedupe_key, received_at, client_ip, headers, content_type, body, status FROM events WHERE seq = ANY(\(s.bind(seqs)))")
        var out: [Int64: StoredEvent] = [:]
        for row in try await rows(s) {
            let e = Self.event(row)
            out[e.seq] = e
        }
        return out
    }

    public func link(target: String, key: String) async throws -> LinkRecord? {
        try await rows("SELECT task_id, project_id FROM links WHERE target = \(target) AND key = \(key)").first.map {
            LinkRecord(target: target, key: key, taskId: $0.string("task_id") ?? "", projectId: $0.string("project_id"))
        }
    }

    // MARK: Reports

    /// Reports are group-committed (``PostgresJobUpdates``): under load many workers'
    /// reports share one transaction; alone, a report is one statement.
    @discardableResult
    public func update(_ u: JobUpdate) async throws -> Bool {
        try await updates.submit(u)
    }

    // MARK: Due times and stats

    public func nextSuspectDueMillis(targets: [String]) async throws -> Int64? {
        guard !targets.isEmpty else { return nil }
        var s = PostgresStatement()
        s.append("SELECT MIN(due_at) AS due FROM jobs WHERE state = '\(JobState.pending.rawValue)' AND crashes > 0 AND target = ANY(\(s.bind(targets)))")
        return try await rows(s).first?.int64("due")
    }

    public func nextDueMillis(targets: [String]) async throws -> Int64? {
        guard !targets.isEmpty else { return nil }
        var s = PostgresStatement()
        s.append("""
            SELECT j.due_at AS due FROM jobs j
            WHERE j.state IN (\(JobSQL.claimableStates)) AND j.target = ANY(\(s.bind(targets))) AND \(JobSQL.firstOfKey)
            ORDER BY j.due_at LIMIT 1
            """)
        return try await rows(s).first?.int64("due")
    }

    public func queueStats(nowMillis: Int64) async throws -> QueueStats {
        var stats = QueueStats()
        for row in try await rows("SELECT target, state, COUNT(*) AS n FROM jobs GROUP BY target, state") {
            guard let st = row.string("state"), let t = row.string("target") else { continue }
            stats.count(target: t, state: st, row.int("n") ?? 0)
        }
        var s = PostgresStatement()
        s.append("""
            SELECT target, COUNT(*) AS n, MIN(due_at) AS oldest FROM jobs
            WHERE state IN (\(JobSQL.claimableStates)) AND due_at <= \(s.bind(nowMillis)) GROUP BY target
            """)
        for row in try await rows(s) {
            guard let t = row.string("target") else { continue }
            stats.dueByTarget[t] = row.int("n") ?? 0
            if let oldest = row.int64("oldest") { stats.oldestDueAgeSeconds[t] = max(0, Double(nowMillis - oldest) / 1000) }
        }
        return stats
    }

    /// Jobs not yet finished, for benchmarks and tests.
    public func openJobCount() async throws -> Int {
        try await rows("SELECT COUNT(*) AS n FROM jobs WHERE state IN (\(JobSQL.openStates))").first?.int("n") ?? 0
    }

    static func event(_ row: PostgresColumns) -> StoredEvent {
        StoredEvent(seq: row.int64("seq") ?? 0, id: row.string("id") ?? "", source: row.string("source") ?? "", type: row.string("type") ?? "",
                    dedupeKey: row.string("dedupe_key"), receivedAtMillis: row.int64("received_at") ?? 0, clientIP: row.string("client_ip"),
                    headers: StoreJSON.stringMap(row.string("headers")), contentType: row.string("content_type") ?? "",
                    body: row.bytes("body") ?? [], status: row.string("status") ?? "")
    }
}
