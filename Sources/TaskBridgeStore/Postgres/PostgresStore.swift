import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization
import TaskBridgeCore

/// The shared store: one PostgreSQL database that any number of `taskbridge serve`
/// replicas use at once.
///
/// Claims take rows with `FOR UPDATE SKIP LOCKED` and a new fencing token each, so two
/// replicas never run one job; dedupe and links rest on unique constraints; jobs with an
/// ordering key are added under that key's advisory lock, so their order is their commit
/// order on every replica. Other replicas hear of new work through `LISTEN/NOTIFY`.
public final class PostgresStore: Store {
    public let location: PostgresLocation
    let client: PostgresClient
    let connectionConfig: PostgresConnection.Configuration
    let logger: Logger
    private let runTask: Task<Void, Never>
    let updates: PostgresJobUpdates
    private let nextConnectionID = Atomic<Int>(1_000_000)

    public var isShared: Bool { true }

    /// Opens the pool and brings the schema up to date (or to `schemaVersion`, for
    /// tests of a migration from an older version). Connection and authentication problems are reported here,
    /// naming the database but never the password.
    ///
    /// - Parameter migrate: create or upgrade the schema (the server and `taskbridge
    ///   migrate`). Operator tools pass `false`: they check the version and refuse a
    ///   database that is not at this binary's, so a newer tool never upgrades the
    ///   schema under an older fleet.
    public static func open(url: String, settings: StorageSettings, migrate: Bool = true, schemaVersion: Int? = nil,
                            logger: Logger = Logger(label: "taskbridge.store")) async throws -> PostgresStore {
        let location = try PostgresLocation(url: url, tls: settings.tls)
        let connectionConfig = try connectionConfiguration(location, settings: settings)
        // Migrate on a connection of its own: a refused connection or password is
        // reported at once instead of as a pool that keeps retrying.
        let conn: PostgresConnection
        do {
            conn = try await PostgresConnection.connect(configuration: connectionConfig, id: 1, logger: logger)
        } catch {
            throw StoreError("cannot connect: \(PostgresErrorText.describe(error))")
        }
        do {
            if migrate {
                try await PostgresMigrator.migrate(conn, to: schemaVersion ?? PostgresSchema.version, logger: logger)
            } else {
                try await PostgresMigrator.check(conn, logger: logger)
            }
            try? await conn.close()
        } catch {
            try? await conn.close()
            throw error as? StoreError ?? StoreError("cannot migrate the schema: \(PostgresErrorText.describe(error))")
        }
        var config = PostgresClient.Configuration(host: location.host, port: location.port, username: location.user,
                                                  password: location.password, database: location.database,
                                                  tls: try clientTLS(location.tls))
        config.options.maximumConnections = settings.poolSize
        // Connections are opened on demand: a short-lived command (migrate, the CLI)
        // closes before pre-warmed ones would even be used.
        config.options.minimumConnections = 0
        config.options.connectTimeout = .milliseconds(Int64(settings.connectTimeoutSeconds * 1000))
        config.options.additionalStartupParameters = sessionSettings
        let client = PostgresClient(configuration: config, backgroundLogger: logger)
        let runTask = Task { await client.run() }
        // Queries wait for the pool's run loop; give it a moment to start so the first
        // one does not log postgres-nio's "run() hasn't been called yet" warning.
        for _ in 0..<10 { await Task.yield() }
        try? await Task.sleep(nanoseconds: 5_000_000)
        return PostgresStore(location: location, client: client, connectionConfig: connectionConfig, runTask: runTask, logger: logger)
    }

    private init(location: PostgresLocation, client: PostgresClient, connectionConfig: PostgresConnection.Configuration,
                 runTask: Task<Void, Never>, logger: Logger) {
        self.location = location
        self.client = client
        self.connectionConfig = connectionConfig
        self.runTask = runTask
        self.logger = logger
        self.updates = PostgresJobUpdates(client: client, logger: logger)
    }

    /// Server-side limits for every session: no statement (an advisory-lock wait
    /// included) runs longer than 30 s, and a transaction whose client vanished does not
    /// keep its locks past 60 s, so one stuck replica cannot hold the others' keys.
    static let sessionSettings = [("statement_timeout", "30s"), ("idle_in_transaction_session_timeout", "60s"),
                                  ("application_name", "taskbridge")]

    /// `prefer` encrypts when the server offers TLS without checking its certificate
    /// (as libpq's `prefer` does: it falls back to plain TCP anyway); `require` also
    /// verifies the certificate against the system's roots.
    static func tlsConfiguration(_ mode: StorageSettings.TLSMode) -> TLSConfiguration {
        var c = TLSConfiguration.makeClientConfiguration()
        if mode == .prefer { c.certificateVerification = .none }
        return c
    }

    static func connectionConfiguration(_ l: PostgresLocation, settings: StorageSettings) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch l.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: tlsConfiguration(.prefer)))
        case .require: tls = .require(try NIOSSLContext(configuration: tlsConfiguration(.require)))
        }
        var c = PostgresConnection.Configuration(host: l.host, port: l.port, username: l.user, password: l.password,
                                                 database: l.database, tls: tls)
        c.options.connectTimeout = .milliseconds(Int64(settings.connectTimeoutSeconds * 1000))
        c.options.additionalStartupParameters = sessionSettings
        return c
    }

    static func clientTLS(_ mode: StorageSettings.TLSMode) throws -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(tlsConfiguration(.prefer))
        case .require: .require(tlsConfiguration(.require))
        }
    }

    /// A connection outside the pool, for what must hold one session: listening, and
    /// session advisory locks.
    func sideConnection() async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration: connectionConfig, id: nextConnectionID.add(1, ordering: .relaxed).newValue,
                                             logger: logger)
    }

    public func close() async throws {
        runTask.cancel()
        await runTask.value
    }

    /// Runs a statement and reads every row.
    func rows(_ statement: PostgresStatement) async throws -> [PostgresColumns] {
        try await client.query(statement.query, logger: logger).columns()
    }

    func rows(_ query: PostgresQuery) async throws -> [PostgresColumns] {
        try await client.query(query, logger: logger).columns()
    }

    func rows(_ statement: PostgresStatement, on conn: PostgresConnection) async throws -> [PostgresColumns] {
        try await conn.query(statement.query, logger: logger).columns()
    }

    /// A transaction; the error thrown is the body's (or the commit's), not
    /// postgres-nio's wrapper, so a `StoreError` reaches the caller as itself.
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { conn in try await body(conn) }
        } catch let e as PostgresTransactionError {
            throw PostgresErrorText.underlying(e) ?? StoreError("the transaction failed")
        }
    }

    // MARK: Rule versions, health, schema

    public func saveRuleVersions(_ rules: [Rule]) async throws {
        guard !rules.isEmpty else { return }
        var s = PostgresStatement("INSERT INTO rule_versions (hash, rule_id, file, json, first_seen) VALUES ")
        let now = WallClock.nowMillis()
        for (i, rule) in rules.enumerated() {
            s.append((i == 0 ? "" : ",") + "(\(s.bind(rule.versionHash)), \(s.bind(rule.id)), \(s.bind(rule.file)), \(s.bind(rule.canonicalJSON)), \(s.bind(now)))")
        }
        s.append(" ON CONFLICT (hash) DO NOTHING")
        _ = try await rows(s)
    }

    public func ruleVersion(_ hash: String) async throws -> StoredRuleVersion? {
        try await rows("SELECT hash, rule_id, file, json FROM rule_versions WHERE hash = \(hash)").first.map {
            StoredRuleVersion(hash: $0.string("hash") ?? hash, ruleId: $0.string("rule_id") ?? "", file: $0.string("file") ?? "",
                              json: $0.string("json") ?? "")
        }
    }

    /// A write: a read-only server (a standby) or a full disk is not ready.
    public func checkWritable() async -> Bool {
        do {
            _ = try await rows("UPDATE meta SET value = value WHERE key = 'schema_version'")
            return true
        } catch {
            return false
        }
    }

    public func schemaVersion() async throws -> Int {
        Int(try await rows("SELECT value FROM meta WHERE key = 'schema_version'").first?.string("value") ?? "") ?? 0
    }
}
