import ServiceLifecycle
import TaskBridgeStore

/// Keeps the store open for the life of the service group and closes it last, after
/// the server and the dispatcher have stopped writing.
struct StoreService: Service {
    let store: any Store

    func run() async throws {
        try? await gracefulShutdown()
        try await store.close()
    }
}
