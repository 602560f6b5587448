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

    /// A body that does not parse as JSON: where and why. Bytes that are not UTF-8 get
    /// their own message, since the sender's encoding is wrong rather than its syntax.
    public static func invalidJSON(_ e: JSONParseError) -> IngressError {
        switch e.kind {
        case .invalidUTF8: .badRequest("invalid UTF-8 in JSON body at byte \(e.offset): \(e.reason); JSON text must be UTF-8")
        case .syntax: .badRequest("body is not valid JSON: \(e.description)")
        }
    }

    /// A form body that does not decode.
    public static func invalidForm(_ e: FormURLEncoding.DecodingError) -> IngressError {
        e.invalidUTF8 ? .badRequest(e.reason) : .badRequest("form body is not valid application/x-www-form-urlencoded: \(e.reason)")
    }
}
