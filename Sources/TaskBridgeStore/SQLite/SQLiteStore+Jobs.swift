import SQLiteNIO
import TaskBridgeCore

extension SQLiteStore {
    public func recoverJobs(expiredBeforeMillis: Int64?, maxCrashes: Int, nowMillis: Int64) async throws -> RecoveryResult {
        // A run that was alone in its process and was cut short counts once more; a run
        // among others only makes the job a suspect (one crash among many in-flight jobs
        // does not say which one caused it). Only a run alone can make a dead letter.
        let crashes = "CASE WHEN solo = 1 THEN crashes + 1 ELSE MAX(crashes, 1) END"
        let poisoned = "(solo = 1 AND crashes + 1 >= ?1)"
        let rows = try await queue.write { db in
            try await db.query(
                """
                UPDATE jobs SET crashes = \(crashes),
                    state = CASE WHEN \(poisoned) THEN 'dead' ELSE 'pending' END,
                    attempts = CASE WHEN \(poisoned) THEN attempts + 1 ELSE attempts END,
                    last_error = CASE WHEN \(poisoned)
                        THEN 'poison job: its run was cut short by a process crash ' || (crashes + 1) || ' times (the last time while it ran alone, at step ' || step || '); set aside so it cannot crash the service again — inspect the event, then retry or replay it'
                        ELSE last_error END,
                    uncertain = 1, solo = 0, lease_owner = NULL, lease_until = NULL, updated_at = ?2
                WHERE state = 'running' AND (?3 IS NULL OR lease_until < ?3)
                RETURNING state, target
                """, [.integer(max(1, maxCrashes)), .integer(Int(nowMillis)), expiredBeforeMillis.map { .integer(Int($0)) } ?? .null])
        }
        var result = RecoveryResult()
        for row in rows {
            if row.column("state")?.string == "dead" {
                result.poisonedTargets.append(row.column("target")?.string ?? "")
            } else {
                result.suspects += 1
            }
        }
        return result
    }

    public func claimJobs(target: String, limit: Int, owner: String, nowMillis: Int64, leaseMillis: Int64) async throws -> [ClaimedJob] {
        guard limit > 0 else { return [] }
        let rows = try await queue.write { db in
            try await db.query(
                """
                UPDATE jobs SET state = 'running', lease_owner = ?1, lease_until = ?2, updated_at = ?3, fence = fence + 1
                WHERE seq IN (
                    SELECT j.seq FROM jobs j
                    WHERE j.target = ?4 AND j.state IN (\(JobSQL.openStates))  -- the partial index jobs_open
                      AND j.state IN (\(JobSQL.claimableStates)) AND j.due_at <= ?3 AND j.crashes = 0
                      AND \(JobSQL.firstOfKey)
                    ORDER BY j.seq LIMIT ?5)
                RETURNING \(JobSQL.claimedColumns)
                """,
                [.text(owner), .integer(Int(nowMillis + leaseMillis)), .integer(Int(nowMillis)), .text(target), .integer(limit)])
        }
        return rows.map { Self.claimed($0, owner: owner) }.sorted { $0.seq < $1.seq }
    }

    public func claimSuspect(targets: [String], owner: String, nowMillis: Int64, leaseMillis: Int64) async throws -> ClaimedJob? {
        guard !targets.isEmpty else { return nil }
        let marks = Array(repeating: "?", count: targets.count).joined(separator: ",")
        let rows = try await queue.write { db in
            try await db.query(
                """
                UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?, updated_at = ?, fence = fence + 1, solo = 1
                WHERE seq = (
                    SELECT j.seq FROM jobs j
                    WHERE j.state = 'pending' AND j.crashes > 0 AND j.due_at <= ? AND j.target IN (\(marks))
                      AND \(JobSQL.firstOfKey)
                    ORDER BY j.seq LIMIT 1)
                RETURNING \(JobSQL.claimedColumns)
                """,
                [.text(owner), .integer(Int(nowMillis + leaseMillis)), .integer(Int(nowMillis)), .integer(Int(nowMillis))]
                    + targets.map { .text($0) })
        }
        return rows.first.map { Self.claimed($0, owner: owner) }
    }

    public func renewLeases(_ leases: [LeaseRef], untilMillis: Int64, nowMillis: Int64) async throws -> Set<Int64> {
        guard !leases.isEmpty else { return [] }
        return try await queue.write { db in
            var held = Set<Int64>()
            var start = 0
            while start < leases.count {
                let chunk = leases[start..<min(leases.count, start + 400)]
                let sql = "UPDATE jobs SET lease_until = MAX(lease_until, ?), updated_at = ? FROM (VALUES "
                    + Array(repeating: "(?,?)", count: chunk.count).joined(separator: ",")
                    + ") AS v WHERE jobs.seq = v.column1 AND jobs.fence = v.column2 AND jobs.state = '\(JobTransition.from.rawValue)' RETURNING jobs.seq"
                var binds: [SQLiteData] = [.integer(Int(untilMillis)), .integer(Int(nowMillis))]
                for l in chunk { binds += [.integer(Int(l.jobSeq)), .integer(Int(l.fence))] }
                for row in try await db.query(sql, binds) {
                    if let seq = row.column("seq")?.integer { held.insert(Int64(seq)) }
                }
                start += chunk.count
            }
            return held
        }
    }

    static func claimed(_ row: SQLiteRow, owner: String) -> ClaimedJob {
        ClaimedJob(
            seq: Int64(row.column("seq")?.integer ?? 0),
            id: row.column("id")?.string ?? "",
            eventSeq: Int64(row.column("event_seq")?.integer ?? 0),
            ruleId: row.column("rule_id")?.string ?? "",
            ruleVersion: row.column("rule_version")?.string ?? "",
            target: row.column("target")?.string ?? "",
            orderingKey: row.column("ordering_key")?.string,
            captures: StoreJSON.stringMap(row.column("captures")?.string),
            step: row.column("step")?.integer ?? 0,
            outputs: StoreJSON.jsonObject(row.column("outputs")?.string),
            attempts: row.column("attempts")?.integer ?? 0,
            firstDueAtMillis: Int64(row.column("first_due_at")?.integer ?? 0),
            uncertain: (row.column("uncertain")?.integer ?? 0) != 0,
            leaseOwner: owner,
            fence: Int64(row.column("fence")?.integer ?? 0),
            leaseUntilMillis: Int64(row.column("lease_until")?.integer ?? 0),
            generation: row.column("generation")?.integer ?? 0,
            solo: (row.column("solo")?.integer ?? 0) != 0,
            waitState: row.column("wait_state")?.string.flatMap { try? JSONParser.parse($0) })
    }

    public func events(seqs: [Int64]) async throws -> [Int64: StoredEvent] {
        var out: [Int64: StoredEvent] = [:]
        var start = 0
        while start < seqs.count {
            let chunk = seqs[start..<min(seqs.count, start + 500)]
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            let rows = try await reader.query(
                "SELECT seq, id, source, type, dedupe_key, received_at, client_ip, headers, content_type, body, status FROM events WHERE seq IN (\(marks))",
                chunk.map { .integer(Int($0)) })
            for row in rows {
                let e = Self.event(row)
                out[e.seq] = e
            }
            start += chunk.count
        }
        return out
    }

    public func link(target: String, key: String) async throws -> LinkRecord? {
        let rows = try await reader.query("SELECT task_id, project_id FROM links WHERE target = ? AND key = ?", [.text(target), .text(key)])
        return rows.first.map {
            LinkRecord(target: target, key: key, taskId: $0.column("task_id")?.string ?? "", projectId: $0.column("project_id")?.string)
        }
    }

    @discardableResult
    public func update(_ update: JobUpdate) async throws -> Bool {
        try await queue.update(update)
    }

    public func nextSuspectDueMillis(targets: [String]) async throws -> Int64? {
        guard !targets.isEmpty else { return nil }
        let marks = Array(repeating: "?", count: targets.count).joined(separator: ",")
        let rows = try await reader.query(
            "SELECT MIN(due_at) AS due FROM jobs WHERE state = 'pending' AND crashes > 0 AND target IN (\(marks))", targets.map { .text($0) })
        return rows.first?.column("due")?.integer.map(Int64.init)
    }

    public func nextDueMillis(targets: [String]) async throws -> Int64? {
        guard !targets.isEmpty else { return nil }
        let marks = Array(repeating: "?", count: targets.count).joined(separator: ",")
        // A job held back by an earlier one with its ordering key is not due, however
        // old its due time: counting it would wake the dispatcher in a loop while the
        // earlier job waits (on a retry, or on an upstream run for minutes).
        let rows = try await reader.query(
            """
            SELECT j.due_at AS due FROM jobs j
            WHERE j.state IN (\(JobSQL.claimableStates)) AND j.target IN (\(marks))
              AND \(JobSQL.firstOfKey)
            ORDER BY j.due_at LIMIT 1
            """, targets.map { .text($0) })
        return rows.first?.column("due")?.integer.map(Int64.init)
    }

    public func queueStats(nowMillis: Int64) async throws -> QueueStats {
        var stats = QueueStats()
        for row in try await reader.query("SELECT target, state, COUNT(*) AS n FROM jobs GROUP BY target, state") {
            guard let s = row.column("state")?.string, let t = row.column("target")?.string else { continue }
            stats.count(target: t, state: s, row.column("n")?.integer ?? 0)
        }
        for row in try await reader.query(
            "SELECT target, COUNT(*) AS n, MIN(due_at) AS oldest FROM jobs WHERE state IN (\(JobSQL.claimableStates)) AND due_at <= ? GROUP BY target",
            [.integer(Int(nowMillis))]) {
            guard let t = row.column("target")?.string else { continue }
            stats.dueByTarget[t] = row.column("n")?.integer ?? 0
            if let oldest = row.column("oldest")?.integer {
                stats.oldestDueAgeSeconds[t] = max(0, Double(Int(nowMillis) - oldest) / 1000)
            }
        }
        return stats
    }

    // MARK: Row decoding

    static func event(_ row: SQLiteRow) -> StoredEvent {
        var body: [UInt8] = []
        if var buf = row.column("body")?.blob { body = buf.readBytes(length: buf.readableBytes) ?? [] }
        return StoredEvent(
            seq: Int64(row.column("seq")?.integer ?? 0),
            id: row.column("id")?.string ?? "",
            source: row.column("source")?.string ?? "",
            type: row.column("type")?.string ?? "",
            dedupeKey: row.column("dedupe_key")?.string,
            receivedAtMillis: Int64(row.column("received_at")?.integer ?? 0),
            clientIP: row.column("client_ip")?.string,
            headers: StoreJSON.stringMap(row.column("headers")?.string),
            contentType: row.column("content_type")?.string ?? "",
            body: body,
            status: row.column("status")?.string ?? "")
    }

}

extension SQLiteStore {
    /// Counted from the open-jobs index.
    public func openJobCount() async throws -> Int {
        try await reader.query("SELECT COUNT(*) AS n FROM jobs WHERE state IN (\(JobSQL.openStates))").first?.column("n")?.integer ?? 0
    }
}
