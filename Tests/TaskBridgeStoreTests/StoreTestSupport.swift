import Foundation
import TaskBridgeCore
@testable import TaskBridgeStore

/// A fresh data directory per test, removed afterwards.
func withStore<T>(_ body: (SQLiteStore, String) async throws -> T) async throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-store-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let store = try await SQLiteStore.open(dataDirectory: dir, synchronous: .normal)
    do {
        let result = try await body(store, dir)
        try await store.close()
        return result
    } catch {
        try? await store.close()
        throw error
    }
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
