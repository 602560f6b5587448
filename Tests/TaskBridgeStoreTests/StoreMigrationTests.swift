import Foundation
import NIOPosix
import SQLiteNIO
import Testing
import TaskBridgeCore
@testable import TaskBridgeStore

@Suite struct StoreMigrationTests {
    /// A version-1 database (no fencing token, crash count, solo flag, generation or wait state) is
    /// brought up to date on open, and its jobs keep working.
    @Test func aVersionOneDatabaseIsMigratedOnOpen() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-migrate-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try await SQLiteStore.open(dataDirectory: dir, synchronous: .normal)
        _ = try await store.ingest(event("e1", key: "1", jobs: [job()]))
        try await store.close()

        // Turn it back into version 1.
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let db = try await SQLiteConnection.open(storage: .file(path: dir + "/" + SQLiteStore.fileName), threadPool: pool,
                                                 on: MultiThreadedEventLoopGroup.singleton.any())
        _ = try await db.query("DROP INDEX jobs_suspect")
        for column in ["fence", "crashes", "solo", "generation", "wait_state"] { _ = try await db.query("ALTER TABLE jobs DROP COLUMN \(column)") }
        _ = try await db.query("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        try await db.close()
        try await pool.shutdownGracefully()

        store = try await SQLiteStore.open(dataDirectory: dir, synchronous: .normal)
        let claimed = try #require(try await store.claimJobs(target: "gc", limit: 10, owner: "w", nowMillis: 10_000, leaseMillis: 60_000).first)
        #expect(claimed.fence == 1)
        #expect(try await store.update(JobUpdate(jobSeq: claimed.seq, fence: claimed.fence, change: .succeeded(outputs: [:]), nowMillis: 10_001)))
        let version = try await store.reader.query("SELECT value FROM meta WHERE key = 'schema_version'").first?.column("value")?.string
        #expect(version == String(SQLiteSchema.version))
        try await store.close()
    }

    @Test func aDatabaseFromANewerTaskBridgeIsRefused() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-migrate-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await SQLiteStore.open(dataDirectory: dir, synchronous: .normal)
        try await store.queue.write { db in _ = try await db.query("UPDATE meta SET value = '99' WHERE key = 'schema_version'") }
        try await store.close()
        await #expect(throws: StoreError.self) { _ = try await SQLiteStore.open(dataDirectory: dir, synchronous: .normal) }
    }
}
