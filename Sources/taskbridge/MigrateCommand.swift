import ArgumentParser
import Logging
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeStore

/// Brings the store's schema up to date without starting the service: for a deploy
/// step that runs once before the replicas roll (`serve` migrates at start too; both
/// are safe when several processes do it at once).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the store's schema (SQLite file or PostgreSQL database), then exit.")

    @OptionGroup var config: ConfigOption
    @OptionGroup var data: DataDirOption

    func run() async throws {
        let loaded = try config.load()
        let storage = loaded.config.storage
        let dir = data.resolve(loaded.config)
        let place = StoreOpener.describe(storage, dataDirectory: dir)
        let store: any Store
        do {
            // `.tool` would refuse a SQLite file that is not there yet; creating it is the point.
            store = try await StoreOpener.open(storage, dataDirectory: dir, role: .server, logger: Logger(label: "taskbridge.migrate"))
        } catch {
            printError("cannot migrate the store in \(place): \(error)")
            throw ExitCode(1)
        }
        let version = try await store.schemaVersion()
        try await store.close()
        print("\(storage.kind.rawValue) store in \(place) is at schema version \(version)")
    }
}
