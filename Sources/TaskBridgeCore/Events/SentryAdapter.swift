/// Sentry integration-platform webhooks: `Sentry-Hook-Signature` is the hex
/// HMAC-SHA256 of the bytes received (never re-serialized JSON), type from
/// `Sentry-Hook-Resource` + `action`, dedupe by `Request-ID`.
public struct SentryAdapter: WebhookAdapter {
    public init() {}
    public var kind: SourceKind { .sentry }
    public var payloadPaths: [FieldPath] { [FieldPath(segments: [.key("body"), .key("action")])] }

    public func checkContentType(_ headers: HeaderFields) -> IngressError? {
        if case .json = ContentType(headers["content-type"]) { return nil }
        return ContentType.unsupported(headers["content-type"], accepted: "application/json")
    }

    public func verify(_ headers: HeaderFields, body: [UInt8], secrets: [Secret]) -> IngressError? {
        switch HMACSignature.verify(hex: headers["sentry-hook-signature"], body: body, secrets: secrets) {
        case .valid: nil
        case .missing: .unauthorized("missing Sentry-Hook-Signature header")
        case .malformed: .unauthorized("malformed Sentry-Hook-Signature header; expected 64 hex digits")
        case .mismatch: .unauthorized("Sentry-Hook-Signature does not match the body for any configured client secret")
        }
    }

    public func payloadDocument(_ headers: HeaderFields, body: [UInt8]) throws(IngressError) -> [UInt8] {
        body
    }

    public func identity(_ headers: HeaderFields, payload: JSONValue) throws(IngressError) -> EventIdentity {
        let resource = try requiredHeader(headers, "Sentry-Hook-Resource", maxLength: 100)
        let requestID = try requiredHeader(headers, "Request-ID", maxLength: 200)
        return EventIdentity(type: typeName(resource, payload: payload), dedupeKey: requestID)
    }

    public var keptHeaders: [String] {
        ["sentry-hook-resource", "sentry-hook-timestamp", "request-id", "content-type", "user-agent"]
    }
}
