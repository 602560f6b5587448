/// The website feedback widget: an unsigned public endpoint called from browsers.
/// Bodies are JSON (or `text/plain` JSON, which browsers may send without a CORS
/// preflight) or form-encoded; every field is length-limited, unknown fields are
/// refused, and a filled honeypot field marks the submission as a bot's.
public struct WidgetAdapter: WebhookAdapter {
    public let settings: WidgetSettings

    public init(settings: WidgetSettings) {
        self.settings = settings
    }

    public var kind: SourceKind { .widget }
    public var payloadPaths: [FieldPath] { [FieldPath(segments: [.key("body"), .key(WidgetAdapter.spamMarker)])] }

    /// Set in the normalized document when the honeypot was filled.
    static let spamMarker = "$honeypot"

    public func checkContentType(_ headers: HeaderFields) -> IngressError? {
        switch ContentType(headers["content-type"]) {
        case .json, .form, .text: nil
        default: ContentType.unsupported(headers["content-type"], accepted: "application/json or application/x-www-form-urlencoded")
        }
    }

    public func verify(_ headers: HeaderFields, body: [UInt8], secrets: [Secret]) -> IngressError? {
        nil
    }

    public func payloadDocument(_ headers: HeaderFields, body: [UInt8]) throws(IngressError) -> [UInt8] {
        var fields: [(String, JSONValue)] = []
        switch ContentType(headers["content-type"]) {
        case .form:
            do {
                fields = try FormURLEncoding.decode(body).map { ($0.0, .string($0.1)) }
            } catch {
                throw IngressError.invalidForm(error)
            }
        default:
            let value: JSONValue
            do {
                value = try JSONParser.parse(body, maxDepth: 4)
            } catch {
                throw IngressError.invalidJSON(error)
            }
            guard case .object(let members) = value else {
                throw IngressError.badRequest("body must be a JSON object with at least a \"message\" field")
            }
            fields = members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        return JSONWriter.serializeBytes(try normalize(fields))
    }

    func normalize(_ fields: [(String, JSONValue)]) throws(IngressError) -> JSONValue {
        var doc: [String: JSONValue] = [:]
        let allowed = WidgetSettings.standardFields + settings.extraFields
        for (name, value) in fields {
            if let honeypot = settings.honeypotField, name == honeypot {
                if let s = value.stringValue, s.isEmpty { continue }
                if value.isNull { continue }
                return .object([WidgetAdapter.spamMarker: true])
            }
            guard allowed.contains(name) else {
                let hint = Spelling.suggestion(for: name, among: allowed).map { " (did you mean \"\($0)\"?)" } ?? ""
                throw IngressError.badRequest("unknown field \"\(name.prefix(64))\"\(hint); accepted fields: \(allowed.joined(separator: ", "))")
            }
            guard doc[name] == nil else { throw IngressError.badRequest("field \"\(name)\" is given more than once") }
            if value.isNull { continue }
            guard case .string(let raw) = value else {
                throw IngressError.badRequest("field \"\(name)\" must be a string, found \(value.typeName)")
            }
            let text = raw.trimmingCharacters()
            let limit = settings.limit(for: name)
            if text.count > limit {
                throw IngressError.badRequest("field \"\(name)\" is \(text.count) characters long; the limit is \(limit)")
            }
            if text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\r" && $0 != "\t" }) {
                throw IngressError.badRequest("field \"\(name)\" contains control characters")
            }
            if !text.isEmpty { doc[name] = .string(text) }
        }
        guard doc["message"] != nil else {
            throw IngressError.badRequest("field \"message\" is required and must not be empty")
        }
        if let email = doc["email"]?.stringValue, !Self.looksLikeEmail(email) {
            throw IngressError.badRequest("field \"email\" is not an email address")
        }
        if let page = doc["page"]?.stringValue, !(page.hasPrefix("https://") || page.hasPrefix("http://")) {
            throw IngressError.badRequest("field \"page\" must be an http(s) URL")
        }
        return .object(doc)
    }

    static func looksLikeEmail(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !s.contains(" ")
            && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
    }

    public func identity(_ headers: HeaderFields, payload: JSONValue) throws(IngressError) -> EventIdentity {
        var key: String?
        if let k = headers["idempotency-key"]?.trimmingSpaces(), !k.isEmpty {
            guard k.utf8.count <= 255, k.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value < 0x7F }) else {
                throw IngressError.badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters")
            }
            key = k
        }
        var id = EventIdentity(type: "widget.submitted", dedupeKey: key)
        if payload[WidgetAdapter.spamMarker] != nil {
            id.producesWork = false
            id.discard = true
        }
        return id
    }

    public var keptHeaders: [String] {
        ["origin", "referer", "user-agent", "content-type", "idempotency-key"]
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
