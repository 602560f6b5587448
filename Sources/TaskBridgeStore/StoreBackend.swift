import Logging
#if canImport(Glibc)
import Glibc
#endif
import TaskBridgeCore

/// What opening a store needs: the `storage` settings, the data directory (SQLite),
/// the resolved database URL (PostgreSQL; a secret, never logged), and whether this
/// process is the server (which takes SQLite's single-process lock).
public struct StoreOpenRequest: Sendable {
    public var settings: StorageSettings
    public var dataDirectory: String
    public var databaseURL: String?
    public var server: Bool
    public var logger: Logger

    public init(settings: StorageSettings, dataDirectory: String, databaseURL: String?, server: Bool, logger: Logger) {
        self.settings = settings
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.server = server
        self.logger = logger
    }
}

/// A kind of store (`storage.kind`). Adding one is a folder with a type conforming to
/// this and one line in ``StoreBackends/all``.
public protocol StoreBackend: Sendable {
    static var kind: StorageSettings.Kind { get }
    /// Opens the store, creating or migrating its schema.
    static func open(_ request: StoreOpenRequest) async throws -> any Store
    /// Whether a store exists to open without creating one (operator tools refuse to
    /// create an empty database by accident).
    static func exists(_ request: StoreOpenRequest) -> Bool
}

public enum StoreBackends {
    public static let all: [any StoreBackend.Type] = [SQLiteStore.self, PostgresStore.self]

    public static func backend(_ kind: StorageSettings.Kind) -> (any StoreBackend.Type)? {
        all.first { $0.kind == kind }
    }

    public static func open(_ request: StoreOpenRequest) async throws -> any Store {
        guard let backend = backend(request.settings.kind) else {
            throw StoreError("storage.kind \"\(request.settings.kind.rawValue)\" has no store in this build")
        }
        return try await backend.open(request)
    }
}

extension SQLiteStore: StoreBackend {
    public static var kind: StorageSettings.Kind { .sqlite }

    public static func open(_ r: StoreOpenRequest) async throws -> any Store {
        try await open(dataDirectory: r.dataDirectory, synchronous: r.settings.synchronous, exclusive: r.server, logger: r.logger)
    }

    public static func exists(_ r: StoreOpenRequest) -> Bool {
        access(r.dataDirectory + "/" + fileName, F_OK) == 0
    }
}

extension PostgresStore: StoreBackend {
    public static var kind: StorageSettings.Kind { .postgres }

    public static func open(_ r: StoreOpenRequest) async throws -> any Store {
        guard let url = r.databaseURL else { throw StoreError("storage.url: PostgreSQL needs a connection URL (a secret: {\"env\": \"TASKBRIDGE_DATABASE_URL\"})") }
        return try await open(url: url, settings: r.settings, migrate: r.server, logger: r.logger)
    }

    /// A database server is there to be asked; whether it has the schema is found out by opening.
    public static func exists(_ r: StoreOpenRequest) -> Bool { true }
}

/// The database URL (a secret) never shows through `dump` or `String(reflecting:)`.
extension StoreOpenRequest: CustomReflectable {
    public var customMirror: Mirror {
        Mirror(self, children: ["kind": settings.kind, "dataDirectory": dataDirectory, "databaseURL": databaseURL == nil ? "none" : "<redacted>",
                                "server": server], displayStyle: .struct)
    }
}
