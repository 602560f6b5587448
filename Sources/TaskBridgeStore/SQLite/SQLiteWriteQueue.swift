import Logging
import SQLiteNIO
import Synchronization
import TaskBridgeCore

/// The single writer of a SQLite database, with group commit.
///
/// Every write goes through one loop that drains whatever is queued, runs it inside one
/// transaction, commits once (one fsync), then resumes every caller. Under load many
/// webhooks share one commit; idle, a write commits immediately. Callers are resumed
/// only after `COMMIT` returns, which is what lets ingress acknowledge after durability.
final class SQLiteWriteQueue: Sendable {
    /// A unit of work inside the shared transaction. It must be safe to run again: if
    /// any unit in a batch fails, the batch is rolled back and each unit is retried in a
    /// transaction of its own, so one bad unit cannot fail its neighbours.
    struct Work: Sendable {
        let run: @Sendable (SQLiteConnection) async throws -> Void
        let finish: @Sendable ((any Error)?) -> Void
    }

    enum Op: Sendable {
        case ingest(PlannedEvent, @Sendable (Result<IngestOutcome, any Error>) -> Void)
        case jobUpdate(JobUpdate, @Sendable (Result<Bool, any Error>) -> Void)
        case work(Work)
    }

    private struct State {
        var pending: [Op] = []
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let connection: SQLiteConnection
    private let state = Mutex(State())
    private let logger: Logger
    static let maxBatch = 512

    init(connection: SQLiteConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    func submit(_ op: Op) {
        let (accepted, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            guard !s.closed else { return (false, nil) }
            s.pending.append(op)
            defer { s.waiter = nil }
            return (true, s.waiter)
        }
        guard accepted else {
            fail(op, StoreError("the store is closed"))
            return
        }
        waiter?.resume()
    }

    /// Runs `body` in the next group-committed transaction and returns its result once
    /// committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) async throws -> T) async throws -> T {
        let box = Mutex<T?>(nil)
        return try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
            submit(.work(Work(
                run: { conn in
                    let value = try await body(conn)
                    box.withLock { $0 = value }
                },
                finish: { error in
                    if let error {
                        cont.resume(throwing: error)
                    } else {
                        cont.resume(returning: box.withLock { $0! })
                    }
                })))
        }
    }

    func ingest(_ event: PlannedEvent) async throws -> IngestOutcome {
        try await withCheckedThrowingContinuation { cont in
            submit(.ingest(event, { cont.resume(with: $0) }))
        }
    }

    /// Applies a worker's report; consecutive reports share statements.
    func update(_ update: JobUpdate) async throws -> Bool {
        try await withCheckedThrowingContinuation { cont in
            submit(.jobUpdate(update, { cont.resume(with: $0) }))
        }
    }

    /// The consumer loop; returns after ``close()`` once the queue is drained.
    func run() async {
        while true {
            let batch: [Op] = await nextBatch()
            if batch.isEmpty { return }
            await process(batch)
        }
    }

    func close() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    private func nextBatch() async -> [Op] {
        while true {
            let taken: [Op]? = state.withLock { s in
                if s.pending.isEmpty { return s.closed ? [] : nil }
                let n = min(s.pending.count, Self.maxBatch)
                let batch = Array(s.pending.prefix(n))
                s.pending.removeFirst(n)
                return batch
            }
            if let taken { return taken }
            await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if !s.pending.isEmpty || s.closed { return true }
                    s.waiter = cont
                    return false
                }
                if resumeNow { cont.resume() }
            }
        }
    }

    private func process(_ batch: [Op]) async {
        do {
            let completions = try await transaction(batch)
            for c in completions { c() }
        } catch {
            if batch.count == 1 {
                fail(batch[0], error)
                return
            }
            logger.warning("group commit failed; retrying its \(batch.count) writes one by one", metadata: ["error": "\(error)"])
            for op in batch {
                do {
                    let completions = try await transaction([op])
                    for c in completions { c() }
                } catch {
                    fail(op, error)
                }
            }
        }
    }

    private func fail(_ op: Op, _ error: any Error) {
        switch op {
        case .ingest(_, let done): done(.failure(error))
        case .jobUpdate(_, let done): done(.failure(error))
        case .work(let w): w.finish(error)
        }
    }

    /// Runs the ops in one transaction; returns the callbacks to run after the commit.
    private func transaction(_ batch: [Op]) async throws -> [@Sendable () -> Void] {
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            var completions: [@Sendable () -> Void] = []
            var i = 0
            while i < batch.count {
                if case .ingest = batch[i] {
                    var group: [(PlannedEvent, @Sendable (Result<IngestOutcome, any Error>) -> Void)] = []
                    while i < batch.count, case .ingest(let e, let done) = batch[i] {
                        group.append((e, done))
                        i += 1
                    }
                    let outcomes = try await SQLiteIngest.insert(group.map(\.0), on: connection)
                    for (k, item) in group.enumerated() {
                        let outcome = outcomes[k]
                        let done = item.1
                        completions.append { done(.success(outcome)) }
                    }
                } else if case .jobUpdate = batch[i] {
                    var group: [(JobUpdate, @Sendable (Result<Bool, any Error>) -> Void)] = []
                    while i < batch.count, case .jobUpdate(let u, let done) = batch[i] {
                        group.append((u, done))
                        i += 1
                    }
                    let held = try await SQLiteJobUpdates.apply(group.map(\.0), on: connection)
                    for (k, item) in group.enumerated() {
                        let result = held[k]
                        let done = item.1
                        completions.append { done(.success(result)) }
                    }
                } else if case .work(let w) = batch[i] {
                    try await w.run(connection)
                    completions.append { w.finish(nil) }
                    i += 1
                }
            }
            _ = try await connection.query("COMMIT")
            return completions
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
    }
}
