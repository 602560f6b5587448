import Logging
import PostgresNIO
import Synchronization
import TaskBridgeCore

/// Applies workers' reports with group commit, as ``SQLiteWriteQueue`` does for SQLite:
/// reports that arrive while a commit is in flight wait for the next one and share it —
/// one multi-row `UPDATE … FROM (VALUES …)` per kind of change (``JobTransition``), one
/// multi-row insert of attempts, the links, one commit. Measured on the 100,000-job
/// drain: one statement and commit per report delivered 3,154 steps/s; see BENCHMARKS.md
/// for the figure with group commit. A report alone is one statement (no transaction's
/// extra round trips). If a batch fails, each of its reports is applied alone, so one
/// bad report cannot fail its neighbours.
final class PostgresJobUpdates: Sendable {
    private struct Waiting {
        let update: JobUpdate
        let continuation: CheckedContinuation<Bool, any Error>
    }

    private struct State {
        var pending: [Waiting] = []
        var flushing = false
    }

    private let client: PostgresClient
    private let logger: Logger
    private let state = Mutex(State())
    static let maxBatch = 512

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Applies the report once committed; `false` when its claim was no longer current.
    func submit(_ update: JobUpdate) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { s -> Bool in
                s.pending.append(Waiting(update: update, continuation: continuation))
                guard !s.flushing else { return false }
                s.flushing = true
                return true
            }
            if start { Task { await self.flush() } }
        }
    }

    private func flush() async {
        while true {
            let batch = state.withLock { s -> [Waiting] in
                let taken = Array(s.pending.prefix(Self.maxBatch))
                s.pending.removeFirst(taken.count)
                if taken.isEmpty { s.flushing = false }
                return taken
            }
            if batch.isEmpty { return }
            if batch.count == 1 {
                let w = batch[0]
                do { w.continuation.resume(returning: try await single(w.update)) } catch { w.continuation.resume(throwing: error) }
                continue
            }
            do {
                let held = try await client.withTransaction(logger: logger) { conn in try await self.apply(batch.map(\.update), on: conn) }
                for w in batch { w.continuation.resume(returning: held.contains(w.update.jobSeq)) }
            } catch {
                logger.warning("a batch of job reports failed; applying each alone", metadata: ["error": "\(PostgresErrorText.describe(error))"])
                for w in batch {
                    do { w.continuation.resume(returning: try await single(w.update)) } catch { w.continuation.resume(throwing: error) }
                }
            }
        }
    }

    /// The report's row for the `VALUES` list: seq, fence, then what its kind sets.
    static func values(_ u: JobUpdate, _ s: inout PostgresStatement) -> [String] {
        let head = [s.bind(u.jobSeq), s.bind(u.fence)]
        let now = s.bind(u.nowMillis)
        switch u.change {
        case .progressed(let next, let outputs, let leaseUntil):
            return head + [s.bind(next), s.bind(JSONWriter.serializeUnordered(.object(outputs))), s.bind(leaseUntil), now]
        case .succeeded(let outputs):
            return head + [s.bind(JSONWriter.serializeUnordered(.object(outputs))), now]
        case .retry(let at, let error, let uncertain):
            return head + [s.bind(at), s.bind(uncertain ? 1 : 0), s.bind(error), now]
        case .dead(let error):
            return head + [s.bind(error), now]
        case .released(let uncertain):
            return head + [s.bind(uncertain ? 1 : 0), now]
        case .deferred(let until, let reason):
            return head + [s.bind(until), s.bind(reason), now]
        case .waiting(let until, let state):
            return head + [s.bind(until), s.bind(JSONWriter.serializeUnordered(state)), now]
        }
    }

    static func updateSQL(_ kind: JobTransition, rows: [[String]]) -> String {
        let names = (1...kind.columns).map { "column\($0)" }.joined(separator: ", ")
        return "UPDATE jobs SET \(kind.setClause(.postgres)) FROM (VALUES "
            + rows.map { "(" + $0.joined(separator: ", ") + ")" }.joined(separator: ", ")
            + ") AS v(\(names)) WHERE jobs.seq = v.column1 AND jobs.fence = v.column2 AND jobs.state = '\(JobTransition.from.rawValue)' RETURNING jobs.seq"
    }

    static func attemptValues(_ u: JobUpdate, _ a: AttemptRecord, _ s: inout PostgresStatement) -> String {
        "(" + [s.bind(u.jobSeq), s.bind(a.step), s.bind(a.startedAtMillis), s.bind(a.latencyMillis), s.bind(a.status), s.bind(a.outcome),
               s.bind(a.error), s.bind(a.request), s.bind(a.response)].joined(separator: ", ") + ")"
    }

    static let attemptColumns = "job_seq, step, started_at, latency_ms, status, outcome, error, request, response"
    static let linkConflict = """
        ON CONFLICT (target, key) DO UPDATE SET task_id = EXCLUDED.task_id,
            project_id = COALESCE(EXCLUDED.project_id, links.project_id), updated_at = EXCLUDED.updated_at
        """

    /// One report as one statement: the fenced change, its attempt, and its link only
    /// when the claim was current.
    func single(_ u: JobUpdate) async throws -> Bool {
        var s = PostgresStatement()
        let row = Self.values(u, &s)
        s.append("WITH u AS (\(Self.updateSQL(JobTransition(u.change), rows: [row])))")
        if let a = u.attempt {
            s.append(", a AS (INSERT INTO attempts (\(Self.attemptColumns)) VALUES \(Self.attemptValues(u, a, &s)))")
        }
        if let l = u.link {
            let now = s.bind(u.nowMillis)
            s.append("""
                , l AS (INSERT INTO links (target, key, task_id, project_id, created_at, updated_at)
                    SELECT \(s.bind(l.target)), \(s.bind(l.key)), \(s.bind(l.taskId)), \(s.bind(l.projectId)), \(now), \(now)
                    WHERE EXISTS (SELECT 1 FROM u) \(Self.linkConflict))
                """)
        }
        s.append(" SELECT seq FROM u")
        return !(try await client.query(s.query, logger: logger).columns().isEmpty)
    }

    /// Many reports inside the caller's transaction; returns the seqs whose claim held.
    func apply(_ updates: [JobUpdate], on conn: PostgresConnection) async throws -> Set<Int64> {
        var held = Set<Int64>()
        for kind in JobTransition.allCases {
            let rows = updates.filter { JobTransition($0.change) == kind }
            guard !rows.isEmpty else { continue }
            var s = PostgresStatement()
            let values = rows.map { Self.values($0, &s) }
            s.append(Self.updateSQL(kind, rows: values))
            for r in try await conn.query(s.query, logger: logger).columns() {
                if let seq = r.int64("seq") { held.insert(seq) }
            }
        }
        let attempts = updates.compactMap { u in u.attempt.map { (u, $0) } }
        if !attempts.isEmpty {
            var s = PostgresStatement()
            let values = attempts.map { Self.attemptValues($0.0, $0.1, &s) }
            s.append("INSERT INTO attempts (\(Self.attemptColumns)) VALUES " + values.joined(separator: ", "))
            _ = try await conn.query(s.query, logger: logger)
        }
        // One row per link key (the last report wins): a statement may not upsert a row twice.
        var links: [String: (LinkRecord, Int64)] = [:]
        var order: [String] = []
        for u in updates where held.contains(u.jobSeq) {
            guard let l = u.link else { continue }
            let key = l.target + "\u{0}" + l.key
            if links[key] == nil { order.append(key) }
            links[key] = (l, u.nowMillis)
        }
        if !order.isEmpty {
            // In key order: two replicas' batches upserting the same links cannot deadlock.
            order.sort()
            var s = PostgresStatement()
            let values = order.compactMap { links[$0] }.map { l, now in
                "(" + [s.bind(l.target), s.bind(l.key), s.bind(l.taskId), s.bind(l.projectId), s.bind(now), s.bind(now)].joined(separator: ", ") + ")"
            }
            s.append("INSERT INTO links (target, key, task_id, project_id, created_at, updated_at) VALUES " + values.joined(separator: ", ")
                     + " " + Self.linkConflict)
            _ = try await conn.query(s.query, logger: logger)
        }
        return held
    }
}
