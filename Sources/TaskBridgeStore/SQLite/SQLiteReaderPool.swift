import SQLiteNIO
import Synchronization

/// Read connections, each used by one query at a time.
///
/// Two statements in flight on one SQLite connection share its read transaction, so a
/// query that starts while another is still stepping sees the older snapshot — a
/// dispatcher could miss a link or an event committed a moment before. Checking a
/// connection out for the whole query gives every read a fresh snapshot.
final class SQLiteReaderPool: Sendable {
    private struct State {
        var idle: [SQLiteConnection]
        var waiters: [CheckedContinuation<SQLiteConnection, Never>] = []
    }

    private let state: Mutex<State>
    let all: [SQLiteConnection]

    init(_ connections: [SQLiteConnection]) {
        all = connections
        state = Mutex(State(idle: connections))
    }

    func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        let connection = await checkOut()
        defer { checkIn(connection) }
        return try await connection.query(sql, binds)
    }

    private func checkOut() async -> SQLiteConnection {
        await withCheckedContinuation { (cont: CheckedContinuation<SQLiteConnection, Never>) in
            let ready = state.withLock { s -> SQLiteConnection? in
                if let c = s.idle.popLast() { return c }
                s.waiters.append(cont)
                return nil
            }
            if let ready { cont.resume(returning: ready) }
        }
    }

    private func checkIn(_ connection: SQLiteConnection) {
        let waiter = state.withLock { s -> CheckedContinuation<SQLiteConnection, Never>? in
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.idle.append(connection)
            return nil
        }
        waiter?.resume(returning: connection)
    }
}
