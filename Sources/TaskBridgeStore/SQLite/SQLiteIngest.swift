import NIOCore
import SQLiteNIO
import TaskBridgeCore

/// Batched inserts of events and their jobs. Dedupe is the unique constraint on
/// `(source, dedupe_key)` (`ON CONFLICT DO NOTHING`), never check-then-insert, so
/// concurrent duplicates of one key store exactly one event.
enum SQLiteIngest {
    static let eventsPerStatement = 200
    static let jobsPerStatement = 400

    static func insert(_ events: [PlannedEvent], on db: SQLiteConnection) async throws -> [IngestOutcome] {
        var outcomes: [IngestOutcome?] = Array(repeating: nil, count: events.count)
        var start = 0
        while start < events.count {
            let end = min(events.count, start + eventsPerStatement)
            try await insertChunk(events, start..<end, into: &outcomes, on: db)
            start = end
        }
        return outcomes.map { $0! }
    }

    private static func insertChunk(_ events: [PlannedEvent], _ range: Range<Int>, into outcomes: inout [IngestOutcome?],
                                    on db: SQLiteConnection) async throws {
        var sql = "INSERT INTO events (id, source, type, dedupe_key, received_at, client_ip, headers, content_type, body, status) VALUES "
        var binds: [SQLiteData] = []
        binds.reserveCapacity(range.count * 10)
        for (n, i) in range.enumerated() {
            let e = events[i]
            sql += n == 0 ? "(?,?,?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?,?,?)"
            binds += [
                .text(e.id), .text(e.source), .text(e.type), e.dedupeKey.map(SQLiteData.text) ?? .null,
                .integer(Int(e.receivedAtMillis)), .text(e.clientIP),
                .text(JSONWriter.serialize(.object(e.headers.mapValues(JSONValue.string)))), .text(e.contentType),
                .blob(ByteBuffer(bytes: e.body)), .text(e.status.rawValue),
            ]
        }
        sql += " ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING seq, id"
        let rows = try await db.query(sql, binds)
        var seqById: [String: Int64] = [:]
        for row in rows {
            if let id = row.column("id")?.string, let seq = row.column("seq")?.integer { seqById[id] = Int64(seq) }
        }
        // Jobs for the events that were inserted.
        var jobRows: [(seq: Int64, atMillis: Int64, job: PlannedJob)] = []
        var duplicates: [Int] = []
        for i in range {
            let e = events[i]
            if let seq = seqById[e.id] {
                outcomes[i] = IngestOutcome(eventId: e.id, duplicate: false, jobsPlanned: e.jobs.count)
                for job in e.jobs { jobRows.append((seq, e.receivedAtMillis, job)) }
            } else {
                duplicates.append(i)
            }
        }
        _ = try await insertJobs(jobRows, on: db)
        // Repeats: report the first event stored with the key.
        for i in duplicates {
            let e = events[i]
            let rows = try await db.query("SELECT id FROM events WHERE source = ? AND dedupe_key = ?",
                                          [.text(e.source), e.dedupeKey.map(SQLiteData.text) ?? .null])
            guard let first = rows.first?.column("id")?.string else {
                throw StoreError("event insert was skipped but no event holds its dedupe key")
            }
            outcomes[i] = IngestOutcome(eventId: first, duplicate: true, jobsPlanned: 0)
        }
    }

    static func insertJobs(_ jobs: [(seq: Int64, atMillis: Int64, job: PlannedJob)], generation: Int = 0,
                           on db: SQLiteConnection) async throws -> [String] {
        var ids: [String] = []
        var start = 0
        while start < jobs.count {
            let end = min(jobs.count, start + jobsPerStatement)
            var sql = "INSERT INTO jobs (\(JobSQL.insertColumns)) VALUES "
            var binds: [SQLiteData] = []
            for n in start..<end {
                let (seq, atMillis, job) = jobs[n]
                sql += n == start ? "(?,?,?,?,?,?,?,'pending',0,'{}',0,?,?,?,?,\(generation))" : ",(?,?,?,?,?,?,?,'pending',0,'{}',0,?,?,?,?,\(generation))"
                let at = Int(atMillis)
                let id = Identifier.make(prefix: "job", millis: atMillis)
                ids.append(id)
                binds += [
                    .text(id), .integer(Int(seq)),
                    .text(job.ruleId), .text(job.ruleVersion), .text(job.target),
                    job.orderingKey.map(SQLiteData.text) ?? .null,
                    .text(JSONWriter.serialize(.object(job.captures.mapValues(JSONValue.string)))),
                    .integer(at), .integer(at), .integer(at), .integer(at),
                ]
            }
            _ = try await db.query(sql, binds)
            start = end
        }
        return ids
    }
}
