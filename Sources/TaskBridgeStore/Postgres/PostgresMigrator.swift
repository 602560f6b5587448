import Logging
import PostgresNIO

/// Brings a database to a schema version in one transaction, under an advisory lock:
/// replicas that start together migrate one after the other, and the later ones find
/// nothing left to do.
enum PostgresMigrator {
    static func migrate(_ conn: PostgresConnection, to wanted: Int, logger: Logger) async throws {
        let target = max(0, min(wanted, PostgresSchema.version))
        _ = try await conn.query("BEGIN", logger: logger)
        do {
            // A migration may build an index on a large table, and a replica may wait for
            // another's migration: the sessions' 30 s statement limit does not apply here.
            _ = try await conn.query("SET LOCAL statement_timeout = 0", logger: logger)
            _ = try await conn.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.Lock.migrationClass), 1)", logger: logger)
            _ = try await conn.query("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", logger: logger)
            let stored = try await conn.query("SELECT value FROM meta WHERE key = 'schema_version'", logger: logger).columns().first?.string("value")
            let from = stored.flatMap { Int($0) } ?? 0
            if let stored, Int(stored) == nil || from > PostgresSchema.version {
                throw StoreError("the database has schema version \(stored), newer than this taskbridge (\(PostgresSchema.version)); upgrade taskbridge")
            }
            if from < target {
                for v in (from + 1)...target {
                    for sql in PostgresSchema.migrations[v - 1] { _ = try await conn.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
                }
                let version = String(target)
                _ = try await conn.query(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', \(version)) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    logger: logger)
                logger.notice("PostgreSQL schema migrated", metadata: ["from": "\(from)", "to": "\(version)"])
            }
            _ = try await conn.query("COMMIT", logger: logger)
        } catch {
            _ = try? await conn.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// For operator tools: the database must be at exactly this binary's version.
    static func check(_ conn: PostgresConnection, logger: Logger) async throws {
        let exists = try await conn.query("SELECT to_regclass('meta') IS NOT NULL AS present", logger: logger).columns().first?
            .optional("present", as: Bool.self) ?? false
        let stored = exists
            ? try await conn.query("SELECT value FROM meta WHERE key = 'schema_version'", logger: logger).columns().first?.string("value")
            : nil
        guard let stored, let version = Int(stored) else {
            throw StoreError("the database has no TaskBridge schema yet; start a replica or run taskbridge migrate", schemaBehind: true)
        }
        if version < PostgresSchema.version {
            throw StoreError("the database has schema version \(version), older than this taskbridge (\(PostgresSchema.version)); run taskbridge migrate (or start an upgraded replica) first",
                             schemaBehind: true)
        }
        if version > PostgresSchema.version {
            throw StoreError("the database has schema version \(version), newer than this taskbridge (\(PostgresSchema.version)); upgrade taskbridge")
        }
    }
}
