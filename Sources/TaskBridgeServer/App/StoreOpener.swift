import Logging
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTargets

/// Opens the store `storage` names — the one way the server, the operator commands and
/// the benchmarks get a store — resolving the database URL secret on the way.
public enum StoreOpener {
    public enum Role: Sendable {
        /// `serve`: takes SQLite's single-process lock.
        case server
        /// Operator commands beside a running server: no lock; they refuse to create a
        /// SQLite database that is not there.
        case tool
    }

    /// Where the store is, for messages: the data directory, or the database without its password.
    public static func describe(_ storage: StorageSettings, dataDirectory: String, secrets: SecretResolver = SecretResolver()) -> String {
        switch storage.kind {
        case .sqlite: return dataDirectory
        case .postgres:
            guard let url = try? databaseURL(storage, secrets: secrets), let location = try? PostgresLocation(url: url, tls: storage.tls) else {
                return "PostgreSQL (storage.url)"
            }
            return location.description
        }
    }

    public static func open(_ storage: StorageSettings, dataDirectory: String, role: Role, secrets: SecretResolver = SecretResolver(),
                            logger: Logger) async throws -> any Store {
        let request = StoreOpenRequest(settings: storage, dataDirectory: dataDirectory, databaseURL: try databaseURL(storage, secrets: secrets),
                                       server: role == .server, logger: logger)
        guard let backend = StoreBackends.backend(storage.kind) else {
            throw StoreError("storage.kind \"\(storage.kind.rawValue)\" has no store in this build")
        }
        if role == .tool && !backend.exists(request) {
            throw StoreError("no TaskBridge database in \(dataDirectory); pass --data-dir, or --url to use a running service's admin API")
        }
        return try await backend.open(request)
    }

    static func databaseURL(_ storage: StorageSettings, secrets: SecretResolver) throws -> String? {
        guard storage.kind == .postgres else { return nil }
        guard let ref = storage.url else { throw StoreError("storage.url: PostgreSQL needs a connection URL: {\"env\": \"TASKBRIDGE_DATABASE_URL\"}") }
        switch secrets.resolve(ref) {
        case .value(let secret): return String(decoding: secret.bytes, as: UTF8.self)
        case .missing(let why): throw StoreError("storage.url: \(why)")
        }
    }
}
