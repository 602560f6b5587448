import SQLiteNIO
import TaskBridgeCore

extension SQLiteStore {
    public func recoverOrphanedJobs(nowMillis: Int64) async throws -> Int {
        try await queue.write { db in
            let rows = try await db.query(
                """
                UPDATE jobs SET state = 'pending', uncertain = 1, lease_owner = NULL, lease_until = NULL, updated_at = ?
                WHERE state = 'running' RETURNING seq
                """, [.integer(Int(nowMillis))])
            return rows.count
        }
    }

    public func claimJobs(target: String, limit: Int, owner: String, nowMillis: Int64, leaseMillis: Int64) async throws -> [ClaimedJob] {
        guard limit > 0 else { return [] }
        let rows = try await queue.write { db in
            try await db.query(
                """
                UPDATE jobs SET state = 'running', lease_owner = ?1, lease_until = ?2, updated_at = ?3,
                    uncertain = CASE WHEN state = 'running' THEN 1 ELSE uncertain END
                WHERE seq IN (
                    SELECT j.seq FROM jobs j
                    WHERE j.target = ?4 AND j.state IN ('pending', 'running')
                      AND ((j.state = 'pending' AND j.due_at <= ?3) OR (j.state = 'running' AND j.lease_until < ?3))
                      AND (j.ordering_key IS NULL OR NOT EXISTS (
                          SELECT 1 FROM jobs p
                          WHERE p.ordering_key = j.ordering_key AND p.seq < j.seq AND p.state IN ('pending', 'running')))
                    ORDER BY j.seq LIMIT ?5)
                RETURNING seq, id, event_seq, rule_id, rule_version, target, ordering_key, captures, step, outputs,
                          attempts, first_due_at, uncertain
                """,
                [.text(owner), .integer(Int(nowMillis + leaseMillis)), .integer(Int(nowMillis)), .text(target), .integer(limit)])
        }
        return rows.map { row in
            ClaimedJob(
                seq: Int64(row.column("seq")?.integer ?? 0),
                id: row.column("id")?.string ?? "",
                eventSeq: Int64(row.column("event_seq")?.integer ?? 0),
                ruleId: row.column("rule_id")?.string ?? "",
                ruleVersion: row.column("rule_version")?.string ?? "",
                target: row.column("target")?.string ?? "",
                orderingKey: row.column("ordering_key")?.string,
                captures: Self.stringMap(row.column("captures")?.string),
                step: row.column("step")?.integer ?? 0,
                outputs: Self.jsonObject(row.column("outputs")?.string),
                attempts: row.column("attempts")?.integer ?? 0,
                firstDueAtMillis: Int64(row.column("first_due_at")?.integer ?? 0),
                uncertain: (row.column("uncertain")?.integer ?? 0) != 0,
                leaseOwner: owner)
        }.sorted { $0.seq < $1.seq }
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

    public func nextDueMillis() async throws -> Int64? {
        let rows = try await reader.query("SELECT MIN(due_at) AS due FROM jobs WHERE state = 'pending'")
        return rows.first?.column("due")?.integer.map(Int64.init)
    }

    public func queueStats(nowMillis: Int64) async throws -> QueueStats {
        var stats = QueueStats()
        for row in try await reader.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") {
            if let s = row.column("state")?.string { stats.jobsByState[s] = row.column("n")?.integer ?? 0 }
        }
        for row in try await reader.query(
            "SELECT target, COUNT(*) AS n, MIN(due_at) AS oldest FROM jobs WHERE state = 'pending' AND due_at <= ? GROUP BY target",
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
            headers: stringMap(row.column("headers")?.string),
            contentType: row.column("content_type")?.string ?? "",
            body: body,
            status: row.column("status")?.string ?? "")
    }

    static func jsonObject(_ text: String?) -> [String: JSONValue] {
        guard let text, let value = try? JSONParser.parse(text), case .object(let o) = value else { return [:] }
        return o
    }

    static func stringMap(_ text: String?) -> [String: String] {
        jsonObject(text).compactMapValues(\.stringValue)
    }
}

extension SQLiteStore {
    /// Jobs not yet finished (pending or running), counted from the open-jobs index.
    public func openJobCount() async throws -> Int {
        try await reader.query("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('pending', 'running')").first?.column("n")?.integer ?? 0
    }
}
