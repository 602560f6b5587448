import Logging
import PostgresNIO

/// Brings a database to a schema version in one transaction, under an advisory lock:
/// replicas that start together migrate one after the other, and the later ones find
/// nothing left to do.
enum PostgresMigrator {
    static func migrate(_ conn: PostgresConnection, to target: Int, logger: Logger) async throws {
        _ = try await conn.query("BEGIN", logger: logger)
        do {
            _ = try await conn.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.Lock.migrationClass), 1)", logger: logger)
            _ = try await conn.query("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", logger: logger)
            let stored = try await conn.query("SELECT value FROM meta WHERE key = 'schema_version'", logger: logger).columns().first?.string("value")
            let from = stored.flatMap { Int($0) } ?? 0
            if let stored, Int(stored) == nil || from > PostgresSchema.version {
                throw StoreError("the database has schema version \(stored), newer than this taskbridge (\(PostgresSchema.version)); upgrade taskbridge")
            }
            if from < target {
                for v in (from + 1)...min(target, PostgresSchema.version) {
                    for sql in PostgresSchema.migrations[v - 1] { _ = try await conn.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
                }
                let version = String(min(target, PostgresSchema.version))
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
}
