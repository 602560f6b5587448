import PostgresNIO

/// Human text for a PostgreSQL error. postgres-nio's own description is deliberately
/// vague; this keeps the server's message and the connection problem, which name no
/// secret (the password is never sent back).
enum PostgresErrorText {
    /// The error inside postgres-nio's transaction wrapper: the body's, else the
    /// commit's, `BEGIN`'s or the rollback's.
    static func underlying(_ t: PostgresTransactionError) -> (any Error)? {
        t.closureError ?? t.commitError ?? t.beginError ?? t.rollbackError
    }

    static func describe(_ error: any Error) -> String {
        if let t = error as? PostgresTransactionError {
            if let inner = underlying(t) { return describe(inner) }
            return "the transaction failed"
        }
        guard let e = error as? PSQLError else { return "\(error)" }
        if let info = e.serverInfo, let message = info[.message] {
            let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return message + state
        }
        switch e.code {
        case .connectionError:
            return "connection failed" + (e.underlying.map { ": \($0)" } ?? "")
        case .sslUnsupported:
            return "the server does not offer TLS, and storage.tls is \"require\""
        case .serverClosedConnection, .clientClosedConnection:
            return "the connection was closed" + (e.underlying.map { ": \($0)" } ?? "")
        case .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            return "authentication failed (\(e.code)); check the user and password in the URL"
        case .poolClosed:
            return "the store is closed"
        default:
            return "\(e.code)" + (e.underlying.map { ": \($0)" } ?? "")
        }
    }
}
