import SQLiteNIO
import TaskBridgeCore

/// Applies many workers' reports in a handful of statements: one multi-row
/// `UPDATE … FROM (VALUES …)` per kind of change, one multi-row insert of attempts, and
/// link upserts. SQLite parses every statement it runs, so at thousands of jobs a
/// second two statements per job cost more than the work itself.
enum SQLiteJobUpdates {
    static let rowsPerStatement = 150

    enum Kind: CaseIterable {
        case progressed, succeeded, retry, dead, released, deferred, waiting

        /// `SET` clause over the row's values: `v.column1` is the job seq, `v.column2`
        /// the claim's fencing token, the rest as in ``values(_:)``.
        var setClause: String {
            switch self {
            case .progressed:
                "step = v.column3, outputs = v.column4, attempts = 0, first_due_at = v.column6, uncertain = 0, crashes = 0, solo = 0, wait_state = NULL, lease_until = MAX(lease_until, v.column5), last_error = NULL, updated_at = v.column6"
            case .succeeded:
                "state = 'succeeded', step = step + 1, outputs = v.column3, uncertain = 0, wait_state = NULL, lease_owner = NULL, lease_until = NULL, last_error = NULL, updated_at = v.column4"
            case .retry:
                "state = 'pending', due_at = v.column3, attempts = attempts + 1, uncertain = v.column4, last_error = v.column5, solo = 0, lease_owner = NULL, lease_until = NULL, updated_at = v.column6"
            case .dead:
                "state = 'dead', attempts = attempts + 1, last_error = v.column3, lease_owner = NULL, lease_until = NULL, updated_at = v.column4"
            case .released:
                "state = 'pending', uncertain = MAX(uncertain, v.column3), solo = 0, lease_owner = NULL, lease_until = NULL, updated_at = v.column4"
            case .deferred:
                "state = 'pending', due_at = v.column3, last_error = v.column4, solo = 0, lease_owner = NULL, lease_until = NULL, updated_at = v.column5"
            case .waiting:
                "state = 'waiting', due_at = v.column3, wait_state = v.column4, uncertain = 0, crashes = 0, solo = 0, last_error = NULL, lease_owner = NULL, lease_until = NULL, updated_at = v.column5"
            }
        }

        var columns: Int {
            switch self {
            case .progressed, .retry: 6
            case .deferred, .waiting: 5
            case .succeeded, .dead, .released: 4
            }
        }

        init(_ change: JobUpdate.Change) {
            switch change {
            case .progressed: self = .progressed
            case .succeeded: self = .succeeded
            case .retry: self = .retry
            case .dead: self = .dead
            case .released: self = .released
            case .deferred: self = .deferred
            case .waiting: self = .waiting
            }
        }
    }

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
        for kind in Kind.allCases {
            let rows = updates.filter { Kind($0.change) == kind }
            var start = 0
            while start < rows.count {
                let chunk = rows[start..<min(rows.count, start + rowsPerStatement)]
                let row = "(" + Array(repeating: "?", count: kind.columns).joined(separator: ",") + ")"
                let sql = "UPDATE jobs SET \(kind.setClause) FROM (VALUES " + Array(repeating: row, count: chunk.count).joined(separator: ",")
                    + ") AS v WHERE jobs.seq = v.column1 AND jobs.fence = v.column2 AND jobs.state = 'running' RETURNING jobs.seq"
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
