import ServiceLifecycle
import TaskBridgeStore

/// Keeps the store open for the life of the service group and closes it last, after
/// the server and the dispatcher have stopped writing.
struct StoreService: Service {
    let store: any Store

    func run() async throws {
        try? await gracefulShutdown()
        // Closing must happen even when the group is cancelled rather than shut down
        // gracefully, so it runs in a task that does not inherit the cancellation.
        let store = self.store
        try await Task { try await store.close() }.value
    }
}
