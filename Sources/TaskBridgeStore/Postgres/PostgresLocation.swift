import Foundation
import TaskBridgeCore

/// Where the PostgreSQL database is, read from a `postgres://user:password@host:port/db`
/// URL. Its description leaves the password out, so it can name the database in logs
/// and errors.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: StorageSettings.TLSMode

    /// `tls` is the config's choice; a `sslmode` in the URL (`disable`, `prefer`,
    /// `require`; `verify-ca`/`verify-full` read as `require`) overrides it.
    public init(url: String, tls: StorageSettings.TLSMode) throws {
        let text = url.trimmingCharacters()
        guard let c = URLComponents(string: text), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme.lowercased()) else {
            throw StoreError("storage.url: expected postgres://user:password@host:5432/database (the URL is not shown: it may hold a password)")
        }
        guard let host = c.host, !host.isEmpty else { throw StoreError("storage.url: the URL names no host") }
        guard let user = c.user?.removingPercentEncoding, !user.isEmpty else { throw StoreError("storage.url: the URL names no user (postgres://USER:password@\(host)/…)") }
        let database = String(c.path.drop { $0 == "/" }).removingPercentEncoding ?? ""
        guard !database.isEmpty else { throw StoreError("storage.url: the URL names no database (postgres://…@\(host)/DATABASE)") }
        if let port = c.port, !(1...65_535).contains(port) { throw StoreError("storage.url: port \(port) is not a port number") }
        self.host = host
        self.port = c.port ?? 5432
        self.user = user
        self.password = c.password?.removingPercentEncoding
        self.database = database
        self.tls = tls
        for item in c.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("sslmode", "disable"): self.tls = .disable
            case ("sslmode", "allow"), ("sslmode", "prefer"): self.tls = .prefer
            case ("sslmode", "require"), ("sslmode", "verify-ca"), ("sslmode", "verify-full"): self.tls = .require
            case ("sslmode", let v): throw StoreError("storage.url: sslmode=\(v) is not one of disable, prefer, require, verify-full")
            case ("application_name", _), ("connect_timeout", _): continue
            case (let name, _): throw StoreError("storage.url: unknown parameter \"\(name)\" (known: sslmode)")
            }
        }
    }

    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }
}

/// `dump`, `String(reflecting:)` and debuggers see the location without its password.
extension PostgresLocation: CustomReflectable, CustomDebugStringConvertible {
    public var customMirror: Mirror {
        Mirror(self, children: ["host": host, "port": port, "user": user, "database": database, "tls": tls,
                                "password": password == nil ? "none" : "<redacted>"], displayStyle: .struct)
    }

    public var debugDescription: String { description }
}
