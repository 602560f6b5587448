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
            let multiline = name == "message"
            let text = (multiline ? Self.normalizingLineBreaks(raw) : raw).trimmingCharacters()
            let limit = settings.limit(for: name)
            // Unicode scalars, not grapheme clusters: "a" followed by 30,000 combining
            // marks is one Character but 30,001 scalars.
            let length = text.unicodeScalars.count
            if length > limit {
                throw IngressError.badRequest("field \"\(name)\" is \(length) characters long; the limit is \(limit)")
            }
            if let (position, scalar) = text.unicodeScalars.enumerated().first(where: { Self.isRefused($0.element, multiline: multiline) }) {
                throw IngressError.badRequest(
                    "field \"\(name)\" contains \(Self.describe(scalar)) at character \(position + 1)")
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

    /// Invisible characters that are refused in every field: C0 controls (except line
    /// feed and tab in `message`), DEL, C1 controls (U+0085 included), the line and
    /// paragraph separators, and the bidirectional overrides and isolates that can make
    /// text display differently from what it says (U+202A–U+202E, U+2066–U+2069).
    static func isRefused(_ s: Unicode.Scalar, multiline: Bool) -> Bool {
        switch s.value {
        case 0x09, 0x0A: !multiline
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    static func describe(_ s: Unicode.Scalar) -> String {
        let code = "U+" + String(repeating: "0", count: max(0, 4 - String(s.value, radix: 16).count)) + String(s.value, radix: 16, uppercase: true)
        switch s.value {
        case 0x2028: return "a line separator (\(code))"
        case 0x2029: return "a paragraph separator (\(code))"
        case 0x202A...0x202E, 0x2066...0x2069: return "a bidirectional override or isolate (\(code))"
        default: return "a control character (\(code))"
        }
    }

    /// A form's textarea sends CRLF line breaks; `message` keeps them as LF.
    static func normalizingLineBreaks(_ s: String) -> String {
        guard s.utf8.contains(0x0D) else { return s }
        var out = String.UnicodeScalarView()
        var afterCR = false
        for u in s.unicodeScalars {
            if u == "\n", afterCR {
                afterCR = false
                continue
            }
            afterCR = u == "\r"
            out.append(afterCR ? "\n" : u)
        }
        return String(out)
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
    /// Without leading and trailing whitespace (Foundation-free).
    public func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
