import SQLiteNIO
import TaskBridgeCore

/// Applies many workers' reports in a handful of statements: one multi-row
/// `UPDATE … FROM (VALUES …)` per kind of change, one multi-row insert of attempts, and
/// link upserts. SQLite parses every statement it runs, so at thousands of jobs a
/// second two statements per job cost more than the work itself.
enum SQLiteJobUpdates {
    static let rowsPerStatement = 150

    static func values(_ u: JobUpdate) -> [SQLiteData] {
        let head: [SQLiteData] = [.integer(Int(u.jobSeq)), .integer(Int(u.fence))]
        let now = SQLiteData.integer(Int(u.nowMillis))
        switch u.change {
        case .progressed(let next, let outputs, let leaseUntil):
            return head + [.integer(next), .text(JSONWriter.serializeUnordered(.object(outputs))), .integer(Int(leaseUntil)), now]
        case .succeeded(let outputs):
            return head + [.text(JSONWriter.serializeUnordered(.object(outputs))), now]
        case .retry(let at, let error, let uncertain):
            return head + [.integer(Int(at)), .integer(uncertain ? 1 : 0), .text(error), now]
        case .dead(let error):
            return head + [.text(error), now]
        case .released(let uncertain):
            return head + [.integer(uncertain ? 1 : 0), now]
        case .deferred(let until, let reason):
            return head + [.integer(Int(until)), .text(reason), now]
        case .waiting(let until, let state):
            return head + [.integer(Int(until)), .text(JSONWriter.serializeUnordered(state)), now]
        }
    }

    /// Returns, per update, whether its claim was still the job's current one (its
    /// fencing token matches and the job is running); a stale report changes nothing.
    static func apply(_ updates: [JobUpdate], on db: SQLiteConnection) async throws -> [Bool] {
        var heldSeqs = Set<Int>()
        for kind in JobTransition.allCases {
            let rows = updates.filter { JobTransition($0.change) == kind }
            var start = 0
            while start < rows.count {
                let chunk = rows[start..<min(rows.count, start + rowsPerStatement)]
                let row = "(" + Array(repeating: "?", count: kind.columns).joined(separator: ",") + ")"
                let sql = "UPDATE jobs SET \(kind.setClause(.sqlite)) FROM (VALUES " + Array(repeating: row, count: chunk.count).joined(separator: ",")
                    + ") AS v WHERE jobs.seq = v.column1 AND jobs.fence = v.column2 AND jobs.state = '\(JobTransition.from.rawValue)' RETURNING jobs.seq"
                for r in try await db.query(sql, chunk.flatMap(values)) {
                    if let seq = r.column("seq")?.integer { heldSeqs.insert(seq) }
                }
                start += chunk.count
            }
        }
        let attempts = updates.compactMap { u in u.attempt.map { (u, $0) } }
        var start = 0
        while start < attempts.count {
            let chunk = attempts[start..<min(attempts.count, start + rowsPerStatement)]
            let sql = "INSERT INTO attempts (job_seq, step, started_at, latency_ms, status, outcome, error, request, response) VALUES "
                + Array(repeating: "(?,?,?,?,?,?,?,?,?)", count: chunk.count).joined(separator: ",")
            var binds: [SQLiteData] = []
            for (u, a) in chunk {
                binds += [.integer(Int(u.jobSeq)), .integer(a.step), .integer(Int(a.startedAtMillis)), .float(a.latencyMillis),
                          a.status.map { .integer($0) } ?? .null, .text(a.outcome), a.error.map(SQLiteData.text) ?? .null,
                          a.request.map(SQLiteData.text) ?? .null, a.response.map(SQLiteData.text) ?? .null]
            }
            _ = try await db.query(sql, binds)
            start += chunk.count
        }
        for u in updates where heldSeqs.contains(Int(u.jobSeq)) {
            guard let l = u.link else { continue }
            let now = SQLiteData.integer(Int(u.nowMillis))
            _ = try await db.query(
                """
                INSERT INTO links (target, key, task_id, project_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (target, key) DO UPDATE SET task_id = excluded.task_id,
                    project_id = COALESCE(excluded.project_id, links.project_id), updated_at = excluded.updated_at
                """,
                [.text(l.target), .text(l.key), .text(l.taskId), l.projectId.map(SQLiteData.text) ?? .null, now, now])
        }
        return updates.map { heldSeqs.contains(Int($0.jobSeq)) }
    }
}
