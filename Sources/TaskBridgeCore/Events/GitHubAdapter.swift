/// GitHub webhooks: `X-Hub-Signature-256` over the raw body, JSON or form-encoded
/// (`payload=`) bodies, type from `X-GitHub-Event` + `action`, dedupe by
/// `X-GitHub-Delivery`.
public struct GitHubAdapter: WebhookAdapter {
    public init() {}
    public var kind: SourceKind { .github }
    public var payloadPaths: [FieldPath] { [FieldPath(segments: [.key("body"), .key("action")])] }

    public func checkContentType(_ headers: HeaderFields) -> IngressError? {
        switch ContentType(headers["content-type"]) {
        case .json, .form: nil
        default: ContentType.unsupported(headers["content-type"], accepted: "application/json or application/x-www-form-urlencoded")
        }
    }

    public func verify(_ headers: HeaderFields, body: [UInt8], secrets: [Secret]) -> IngressError? {
        switch HMACSignature.verify(hex: headers["x-hub-signature-256"], prefix: "sha256=", body: body, secrets: secrets) {
        case .valid: nil
        case .missing: .unauthorized("missing X-Hub-Signature-256 header")
        case .malformed: .unauthorized("malformed X-Hub-Signature-256 header; expected \"sha256=\" and 64 hex digits")
        case .mismatch: .unauthorized("X-Hub-Signature-256 does not match the body for any configured secret")
        }
    }

    public func payloadDocument(_ headers: HeaderFields, body: [UInt8]) throws(IngressError) -> [UInt8] {
        if case .form = ContentType(headers["content-type"]) {
            let fields: [(String, String)]
            do {
                fields = try FormURLEncoding.decode(body)
            } catch {
                throw IngressError.invalidForm(error)
            }
            guard let payload = fields.first(where: { $0.0 == "payload" })?.1 else {
                throw IngressError.badRequest("form body has no \"payload\" field")
            }
            return Array(payload.utf8)
        }
        return body
    }

    public func identity(_ headers: HeaderFields, payload: JSONValue) throws(IngressError) -> EventIdentity {
        let event = try requiredHeader(headers, "X-GitHub-Event", maxLength: 100)
        let delivery = try requiredHeader(headers, "X-GitHub-Delivery", maxLength: 200)
        return EventIdentity(type: typeName(event, payload: payload), dedupeKey: delivery, producesWork: event != "ping")
    }

    public var keptHeaders: [String] {
        ["x-github-event", "x-github-delivery", "x-github-hook-id",
         "x-github-hook-installation-target-id", "x-github-hook-installation-target-type",
         "user-agent", "content-type"]
    }
}
