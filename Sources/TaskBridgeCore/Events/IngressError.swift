/// Why a webhook was refused: an HTTP status and a message for the caller. Messages
/// say what is wrong and never contain a secret or an expected signature.
public struct IngressError: Error, Sendable, Hashable, CustomStringConvertible {
    public let status: Int
    public let message: String
    /// Seconds, for 429 and 503 answers.
    public var retryAfter: Int?
    /// More detail for the operator's log than the caller should see (never a secret).
    public var reasonForLog: String?

    public init(status: Int, message: String, retryAfter: Int? = nil, reasonForLog: String? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
        self.reasonForLog = reasonForLog
    }

    public var description: String { "\(status): \(message)" }

    public static func badRequest(_ m: String) -> IngressError { .init(status: 400, message: m) }
    public static func unauthorized(_ m: String) -> IngressError { .init(status: 401, message: m) }
    public static func forbidden(_ m: String) -> IngressError { .init(status: 403, message: m) }
    public static func notFound(_ m: String) -> IngressError { .init(status: 404, message: m) }
    public static func payloadTooLarge(_ m: String) -> IngressError { .init(status: 413, message: m) }
    public static func unsupportedMediaType(_ m: String) -> IngressError { .init(status: 415, message: m) }
}
