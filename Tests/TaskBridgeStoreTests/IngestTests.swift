import Foundation
import Testing
import TaskBridgeCore
@testable import TaskBridgeStore

@Suite struct IngestTests {
    @Test(arguments: TestBackend.all) func storesEventAndJobsAndReportsRepeats(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            let first = try await store.ingest(event("evt_a", key: "d-1", jobs: [job("r1"), job("r2")]))
            #expect(first == IngestOutcome(eventId: "evt_a", duplicate: false, jobsPlanned: 2))
            let again = try await store.ingest(event("evt_b", key: "d-1", jobs: [job("r1")]))
            #expect(again == IngestOutcome(eventId: "evt_a", duplicate: true, jobsPlanned: 0))
            let jobs = try await store.listJobs(JobFilter())
            #expect(jobs.map(\.ruleId).sorted() == ["r1", "r2"])
            #expect(try await store.listEvents(EventFilter()).map(\.id) == ["evt_a"])
        }
    }

    @Test(arguments: TestBackend.all) func sameKeyFromDifferentSourcesIsNotADuplicate(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            _ = try await store.ingest(event("evt_a", source: "github", key: "k"))
            let other = try await store.ingest(event("evt_b", source: "sentry", key: "k"))
            #expect(other.duplicate == false)
        }
    }

    @Test(arguments: TestBackend.all) func eventsWithoutDedupeKeyNeverCollide(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            for i in 0..<5 { #expect(try await store.ingest(event("evt_\(i)", source: "widget", key: nil)).duplicate == false) }
            #expect(try await store.listEvents(EventFilter()).count == 5)
        }
    }

    /// 200 concurrent deliveries of one key: exactly one event and one set of jobs, and
    /// every caller is told the same id.
    @Test(arguments: TestBackend.all) func concurrentDuplicatesStoreExactlyOne(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            let outcomes = try await withThrowingTaskGroup(of: IngestOutcome.self) { group in
                for i in 0..<200 { group.addTask { try await store.ingest(event("evt_\(i)", key: "same", jobs: [job()])) } }
                return try await group.reduce(into: [IngestOutcome]()) { $0.append($1) }
            }
            let ids = Set(outcomes.map(\.eventId))
            #expect(ids.count == 1)
            #expect(outcomes.filter { !$0.duplicate }.count == 1)
            #expect(try await store.listEvents(EventFilter(limit: 1000)).count == 1)
            #expect(try await store.listJobs(JobFilter(limit: 1000)).count == 1)
        }
    }

    @Test func survivesReopenAndUsesWAL() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-reopen-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var store = try await SQLiteStore.open(dataDirectory: dir)
        _ = try await store.ingest(event("evt_keep", key: "k", jobs: [job()]))
        let mode = try await store.writer.query("PRAGMA journal_mode").first?.column("journal_mode")?.string
        #expect(mode == "wal")
        try await store.close()
        store = try await SQLiteStore.open(dataDirectory: dir)
        #expect(try await store.eventDetail(id: "evt_keep")?.jobs.count == 1)
        try await store.close()
    }

    @Test func aSecondServerOnTheSameDataDirectoryIsRefused() async throws {
        try await withSQLiteStore { _, dir async throws in
            do {
                _ = try await SQLiteStore.open(dataDirectory: dir)
                Issue.record("a second exclusive open succeeded")
            } catch {
                #expect("\(error)".contains("another taskbridge process is using this data directory"))
            }
            // Operator tools open without the lock.
            let tool = try await SQLiteStore.open(dataDirectory: dir, exclusive: false)
            try await tool.close()
        }
    }

    @Test(arguments: TestBackend.all) func storesTheRawBodyByteForByte(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ async throws in
            var e = event("evt_raw", key: "k")
            e.body = [0x7B, 0x20, 0x22, 0xC3, 0xA9, 0x22, 0x3A, 0x31, 0x7D, 0x0A]
            _ = try await store.ingest(e)
            #expect(try await store.eventDetail(id: "evt_raw")?.event.body == e.body)
        }
    }
}
