import Foundation
import Logging
import PostgresNIO

/// Throwaway PostgreSQL databases for tests, on the server `.ci/run` starts
/// (`scripts/pg-test-cluster.sh`) and names in `TASKBRIDGE_TEST_POSTGRES_URL`. Without
/// that variable the PostgreSQL tests are skipped (one line says so).
public enum PostgresTestDatabase {
    public static let environmentKey = "TASKBRIDGE_TEST_POSTGRES_URL"

    /// The server's URL, or `nil` when no PostgreSQL server is set up for tests.
    public static var serverURL: String? {
        ProcessInfo.processInfo.environment[environmentKey].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static var available: Bool { serverURL != nil }

    public static let skipReason =
        "PostgreSQL tests skipped: no server (set \(environmentKey), e.g. from `scripts/pg-test-cluster.sh start DIR`; .ci/run does)"

    /// A new empty database; returns its URL. ``drop(_:)`` removes it.
    public static func create() async throws -> String {
        guard let server = serverURL, var c = URLComponents(string: server) else {
            throw PostgresTestError("no PostgreSQL server for tests (\(environmentKey))")
        }
        let name = "tb_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try await admin(server) { conn in
            _ = try await conn.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        c.path = "/" + name
        return c.string ?? server
    }

    public static func drop(_ url: String) async {
        guard let server = serverURL, let name = URLComponents(string: url)?.path.dropFirst(), !name.isEmpty else { return }
        try? await admin(server) { conn in
            _ = try await conn.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }

    /// Runs one statement as the test server's user (databases cannot be created inside a transaction).
    public static func execute(_ url: String, _ sql: String) async throws {
        try await admin(url) { conn in _ = try await conn.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
    }

    static let logger = Logger(label: "taskbridge.test.postgres")

    static func admin(_ url: String, _ body: (PostgresConnection) async throws -> Void) async throws {
        guard let c = URLComponents(string: url), let host = c.host, let user = c.user else { throw PostgresTestError("bad test URL") }
        let config = PostgresConnection.Configuration(host: host, port: c.port ?? 5432, username: user, password: c.password,
                                                      database: String(c.path.dropFirst()), tls: .disable)
        let conn = try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
        do {
            try await body(conn)
            try? await conn.close()
        } catch {
            try? await conn.close()
            throw error
        }
    }
}

public struct PostgresTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
