/// What one provider needs from ingress: which content types it sends, how its
/// signature is checked, which JSON document its rules read, and how its event type and
/// dedupe key are named. One adapter per ``SourceKind``.
public protocol WebhookAdapter: Sendable {
    var kind: SourceKind { get }
    /// Paths the adapter itself reads from the payload (e.g. `action`); merged into the
    /// parse filter so they are extracted in the same single pass as rule paths.
    var payloadPaths: [FieldPath] { get }
    /// Checked from headers alone, before the body is read.
    func checkContentType(_ headers: HeaderFields) -> IngressError?
    /// `nil` when the signature is valid (or the source is unsigned).
    func verify(_ headers: HeaderFields, body: [UInt8], secrets: [Secret]) -> IngressError?
    /// The JSON document rules and templates read, as bytes.
    func payloadDocument(_ headers: HeaderFields, body: [UInt8]) throws(IngressError) -> [UInt8]
    /// Type, dedupe key and whether the event can produce work.
    func identity(_ headers: HeaderFields, payload: JSONValue) throws(IngressError) -> EventIdentity
    /// Names (lower-case) of the headers kept with the event — never signatures or
    /// credentials. Rules can read them as `headers.<name>`.
    var keptHeaders: [String] { get }
}

public struct EventIdentity: Sendable, Hashable {
    public var type: String
    public var dedupeKey: String?
    /// `false` for events that are stored but never matched (GitHub `ping`).
    public var producesWork: Bool
    /// Answered like an accepted event but not stored (a tripped widget honeypot), so a
    /// bot learns nothing.
    public var discard = false

    public init(type: String, dedupeKey: String?, producesWork: Bool = true) {
        self.type = type
        self.dedupeKey = dedupeKey
        self.producesWork = producesWork
    }
}

public enum ContentType {
    case json, form, text, other(String), missing

    public init(_ header: String?) {
        guard let header else {
            self = .missing
            return
        }
        let media = header.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces().lowercased() } ?? ""
        switch media {
        case "application/json": self = .json
        case "application/x-www-form-urlencoded": self = .form
        case "text/plain": self = .text
        case "": self = .missing
        default: self = .other(media)
        }
    }

    static func unsupported(_ header: String?, accepted: String) -> IngressError {
        if let header, !header.isEmpty {
            return .unsupportedMediaType("unsupported Content-Type \"\(header.prefix(100))\"; send \(accepted)")
        }
        return .unsupportedMediaType("missing Content-Type header; send \(accepted)")
    }
}

extension WebhookAdapter {
    public func headersOfInterest(_ headers: HeaderFields) -> [String: String] {
        var out: [String: String] = [:]
        for n in keptHeaders {
            if let v = headers[n] { out[n] = String(v.prefix(1024)) }
        }
        return out
    }

    /// A header the provider always sends: trimmed, non-empty, and at most `maxLength` bytes.
    func requiredHeader(_ headers: HeaderFields, _ name: String, maxLength: Int) throws(IngressError) -> String {
        guard let value = headers[name]?.trimmingSpaces(), !value.isEmpty else {
            throw IngressError.badRequest("missing \(name) header")
        }
        guard value.utf8.count <= maxLength else {
            throw IngressError.badRequest("\(name) header is longer than \(maxLength) bytes")
        }
        return value
    }

    /// The normalized type `resource.action`, or just `resource` when there is no action.
    func typeName(_ resource: String, payload: JSONValue) -> String {
        if let action = payload["action"]?.stringValue, !action.isEmpty { return resource + "." + action }
        return resource
    }

    func requireJSON(_ body: [UInt8]) throws(IngressError) {
        do {
            _ = try JSONParser.parse(body, keeping: PathTrie())
        } catch {
            throw IngressError.invalidJSON(error)
        }
    }
}

public enum WebhookAdapters {
    public static func adapter(for source: SourceConfig) -> any WebhookAdapter {
        switch source.kind {
        case .github: GitHubAdapter()
        case .sentry: SentryAdapter()
        case .widget: WidgetAdapter(settings: source.widget ?? WidgetSettings())
        case .agent: AgentEventAdapter()
        }
    }

    public static func keptHeaders(for kind: SourceKind) -> [String] {
        switch kind {
        case .github: GitHubAdapter().keptHeaders
        case .sentry: SentryAdapter().keptHeaders
        case .widget: WidgetAdapter(settings: WidgetSettings()).keptHeaders
        case .agent: AgentEventAdapter().keptHeaders
        }
    }
}
