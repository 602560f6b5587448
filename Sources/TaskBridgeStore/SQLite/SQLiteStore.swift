#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import Synchronization
import TaskBridgeCore

/// The embedded store: one SQLite file in WAL mode under the data directory.
///
/// One connection writes (through ``SQLiteWriteQueue``'s group commit); three more read,
/// so admin queries and the dispatcher's event loads never wait behind a commit. A lock
/// file keeps a second process off the same data directory: SQLite is the
/// single-process store.
public final class SQLiteStore: Store {
    public let path: String
    let writer: SQLiteConnection
    /// Reads; each connection serves one query at a time (see ``SQLiteReaderPool``).
    let reader: SQLiteReaderPool
    let queue: SQLiteWriteQueue
    let threadPool: NIOThreadPool
    let logger: Logger
    private let lockFD: Int32
    private let loop: Mutex<Task<Void, Never>?> = Mutex(nil)

    public static let fileName = "taskbridge.sqlite"

    /// Opens (creating if needed) the database in `dataDirectory`.
    ///
    /// - Parameter exclusive: take the data directory's lock. The server does; operator
    ///   tools (`taskbridge events`, `dlq`, `replay`) do not, so they work beside a
    ///   running server — SQLite's own locking keeps concurrent writes safe.
    public static func open(dataDirectory: String, synchronous: StorageSettings.Synchronous = .full, exclusive: Bool = true,
                            logger: Logger = Logger(label: "taskbridge.store")) async throws -> SQLiteStore {
        try createDirectory(dataDirectory)
        let lockFD = exclusive ? try acquireLock(dataDirectory + "/taskbridge.lock") : -1
        let path = dataDirectory + "/" + fileName
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        let group = MultiThreadedEventLoopGroup.singleton
        // Connections opened so far: closed again if opening fails half-way (a
        // connection must be closed before it is released).
        var opened: [SQLiteConnection] = []
        do {
            let writer = try await SQLiteConnection.open(storage: .file(path: path), threadPool: pool, logger: logger, on: group.any())
            opened.append(writer)
            // Checkpoints stay inside committing transactions but small (every 256 pages,
            // 1 MB): measured at 1,000 webhooks/s, p99 ack 3.7 ms against 10.8 ms with
            // SQLite's default 1,000 pages. A background checkpointer measured ~10% more
            // throughput but p99 acks of 200+ ms (the writer waits to restart the WAL).
            // The writer's cache is small: ingest writes bodies once and never reads them.
            for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = \(synchronous == .full ? "FULL" : "NORMAL")",
                           "PRAGMA busy_timeout = 10000", "PRAGMA temp_store = MEMORY", "PRAGMA cache_size = -4000", "PRAGMA wal_autocheckpoint = 256"] {
                _ = try await writer.query(pragma)
            }
            try await migrate(writer)
            var readers: [SQLiteConnection] = []
            for _ in 0..<3 {
                let r = try await SQLiteConnection.open(storage: .file(path: path), threadPool: pool, logger: logger, on: group.any())
                opened.append(r)
                _ = try await r.query("PRAGMA busy_timeout = 10000")
                _ = try await r.query("PRAGMA query_only = 1")
                readers.append(r)
            }
            let store = SQLiteStore(path: path, writer: writer, readers: readers, pool: pool, lockFD: lockFD, logger: logger)
            store.start()
            return store
        } catch {
            for connection in opened { try? await connection.close() }
            if lockFD >= 0 { _ = Glibc.close(lockFD) }
            try? await pool.shutdownGracefully()
            throw error
        }
    }

    /// Creates the schema, or brings an older database up to ``SQLiteSchema/version``
    /// in one transaction. A database newer than this binary is refused.
    static func migrate(_ db: SQLiteConnection) async throws {
        _ = try await db.query("BEGIN IMMEDIATE")
        do {
            _ = try await db.query(SQLiteSchema.statements[0])
            let stored = try await db.query("SELECT value FROM meta WHERE key = 'schema_version'").first?.column("value")?.string
            if let stored {
                guard let from = Int(stored), from <= SQLiteSchema.version else {
                    throw StoreError("the database has schema version \(stored), newer than this taskbridge (\(SQLiteSchema.version)); upgrade taskbridge")
                }
                if from < SQLiteSchema.version {
                    for v in (from + 1)...SQLiteSchema.version {
                        for sql in SQLiteSchema.migrations[v] ?? [] { _ = try await db.query(sql) }
                    }
                    _ = try await db.query("UPDATE meta SET value = ? WHERE key = 'schema_version'", [.text(String(SQLiteSchema.version))])
                }
                // New indexes may read migrated columns: after the migrations.
                for sql in SQLiteSchema.statements { _ = try await db.query(sql) }
            } else {
                for sql in SQLiteSchema.statements { _ = try await db.query(sql) }
                _ = try await db.query("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", [.text(String(SQLiteSchema.version))])
            }
            _ = try await db.query("COMMIT")
        } catch {
            _ = try? await db.query("ROLLBACK")
            throw error
        }
    }

    private init(path: String, writer: SQLiteConnection, readers: [SQLiteConnection], pool: NIOThreadPool,
                 lockFD: Int32, logger: Logger) {
        self.path = path
        self.writer = writer
        self.reader = SQLiteReaderPool(readers)
        self.threadPool = pool
        self.lockFD = lockFD
        self.logger = logger
        self.queue = SQLiteWriteQueue(connection: writer, logger: logger)
    }

    private func start() {
        let queue = self.queue
        let executor = EventLoopTaskExecutor(writer.eventLoop)
        loop.withLock { $0 = Task(executorPreference: executor) { await queue.run() } }
    }

    /// Drains pending writes, then closes every connection (even if one fails) and
    /// releases the data directory's lock.
    public func close() async throws {
        queue.close()
        await loop.withLock { $0 }?.value
        var firstError: (any Error)?
        for r in reader.all {
            do { try await r.close() } catch { firstError = firstError ?? error }
        }
        _ = try? await writer.query("PRAGMA wal_checkpoint(TRUNCATE)")
        do { try await writer.close() } catch { firstError = firstError ?? error }
        try? await threadPool.shutdownGracefully()
        if lockFD >= 0 { _ = Glibc.close(lockFD) }
        if let firstError { throw firstError }
    }

    static func createDirectory(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o750) != 0 && errno != EEXIST {
                throw StoreError("cannot create data directory \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    static func acquireLock(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StoreError("cannot open lock file \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            _ = Glibc.close(fd)
            throw StoreError("another taskbridge process is using this data directory (\(path) is locked); the SQLite store serves one process — use PostgreSQL for several replicas")
        }
        return fd
    }

    // MARK: Ingest and rule versions

    public func ingest(_ event: PlannedEvent) async throws -> IngestOutcome {
        try await queue.ingest(event)
    }

    public func saveRuleVersions(_ rules: [Rule]) async throws {
        let now = Int(WallClock.nowMillis())
        try await queue.write { db in
            for rule in rules {
                _ = try await db.query(
                    "INSERT OR IGNORE INTO rule_versions (hash, rule_id, file, json, first_seen) VALUES (?, ?, ?, ?, ?)",
                    [.text(rule.versionHash), .text(rule.id), .text(rule.file), .text(rule.canonicalJSON), .integer(now)])
            }
        }
    }

    public func ruleVersion(_ hash: String) async throws -> StoredRuleVersion? {
        let rows = try await reader.query("SELECT hash, rule_id, file, json FROM rule_versions WHERE hash = ?", [.text(hash)])
        return rows.first.map {
            StoredRuleVersion(hash: $0.column("hash")?.string ?? hash, ruleId: $0.column("rule_id")?.string ?? "",
                              file: $0.column("file")?.string ?? "", json: $0.column("json")?.string ?? "")
        }
    }

    public func schemaVersion() async throws -> Int {
        Int(try await reader.query("SELECT value FROM meta WHERE key = 'schema_version'").first?.column("value")?.string ?? "") ?? 0
    }

    /// A write that proves the writer is alive and the file is writable.
    public func checkWritable() async -> Bool {
        do {
            try await queue.write { db in
                _ = try await db.query("UPDATE meta SET value = value WHERE key = 'schema_version'")
            }
            return true
        } catch {
            return false
        }
    }
}

