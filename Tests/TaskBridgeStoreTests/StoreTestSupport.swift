import Foundation
import Logging
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport
@testable import TaskBridgeStore

/// The stores every conformance test runs against: SQLite always, PostgreSQL when a
/// test server is set up (``PostgresTestDatabase``).
enum TestBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    static var all: [TestBackend] { PostgresTestDatabase.available ? [.sqlite, .postgres] : [.sqlite] }

    var testDescription: String { rawValue }
}

/// Says, as one line in the test output, that the PostgreSQL half of the conformance
/// suite did not run (its parameterized tests then run their SQLite case only).
@Suite struct PostgresAvailability {
    @Test(.enabled(if: PostgresTestDatabase.available, Comment(rawValue: PostgresTestDatabase.skipReason)))
    func postgresTestServerIsReachable() async throws {
        let url = try await PostgresTestDatabase.create()
        await PostgresTestDatabase.drop(url)
    }
}

/// A fresh store per test — a new data directory, or a new PostgreSQL database —
/// removed afterwards. The directory is passed for SQLite-specific checks.
func withStore<T>(_ backend: TestBackend = .sqlite, _ body: (any Store, String) async throws -> T) async throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-store-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var dbURL: String?
    let store: any Store
    switch backend {
    case .sqlite:
        store = try await SQLiteStore.open(dataDirectory: dir, synchronous: .normal)
    case .postgres:
        let url = try await PostgresTestDatabase.create()
        dbURL = url
        var settings = StorageSettings()
        settings.kind = .postgres
        settings.poolSize = 4
        settings.tls = .disable
        store = try await PostgresStore.open(url: url, settings: settings, logger: Logger(label: "test"))
    }
    do {
        let result = try await body(store, dir)
        try await store.close()
        if let dbURL { await PostgresTestDatabase.drop(dbURL) }
        return result
    } catch {
        try? await store.close()
        if let dbURL { await PostgresTestDatabase.drop(dbURL) }
        throw error
    }
}

/// For the SQLite-only tests (its file, WAL, lock file and raw rows).
func withSQLiteStore<T>(_ body: (SQLiteStore, String) async throws -> T) async throws -> T {
    try await withStore(.sqlite) { store, dir in try await body(store as! SQLiteStore, dir) }
}

func event(_ id: String, source: String = "github", key: String?, at: Int64 = 1_000, jobs: [PlannedJob] = [],
           status: PlannedEvent.Status? = nil) -> PlannedEvent {
    PlannedEvent(id: id, source: source, type: "pull_request.opened", dedupeKey: key, receivedAtMillis: at,
                 clientIP: "127.0.0.1", headers: ["x-github-event": "pull_request"], contentType: "application/json",
                 body: Array("{\"n\":\"\(id)\"}".utf8), status: status ?? (jobs.isEmpty ? .unmatched : .planned), jobs: jobs)
}

func job(_ rule: String = "r1", key: String? = nil, target: String = "gc") -> PlannedJob {
    PlannedJob(ruleId: rule, ruleVersion: "v-\(rule)", target: target, orderingKey: key, captures: ["task": "t1"])
}
