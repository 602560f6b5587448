/// What a failed delivery attempt means for its job.
public enum FailureClass: Sendable, Hashable {
    /// Try again later: connection failures, timeouts, 408, 425, 429, 5xx.
    case retryable
    /// Will never succeed as sent: 400, 404, 409, 422, and other 4xx.
    case permanent
    /// 401/403: permanent, and a sign that the target's token is wrong or revoked.
    case authentication

    public static func classify(status: Int) -> FailureClass? {
        switch status {
        case 200..<300: nil
        case 401, 403: .authentication
        case 408, 425, 429: .retryable
        case 500..<600: .retryable
        case 400..<500: .permanent
        default: .retryable
        }
    }

    /// Bounded label for metrics: `2xx`, `4xx`, `5xx`, or a transport failure name.
    public static func statusClass(_ status: Int?) -> String {
        guard let status else { return "error" }
        switch status {
        case 100..<200: return "1xx"
        case 200..<300: return "2xx"
        case 300..<400: return "3xx"
        case 400..<500: return "4xx"
        case 500..<600: return "5xx"
        default: return "other"
        }
    }
}

/// A transport-level failure (no HTTP status). `sent` records whether the request may
/// have reached the upstream, which decides whether a create must be reconciled
/// before it is sent again.
public struct TransportFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case connect
        case timeout
        case reset
        case other
    }

    public let kind: Kind
    public let sent: Bool
    public let detail: String

    public init(kind: Kind, sent: Bool, detail: String) {
        self.kind = kind
        self.sent = sent
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}
