/// Everything a condition or template can read, under one path syntax:
///
/// - `event.id`, `event.type`, `event.source`, `event.receivedAt` (Unix ms), `event.dedupeKey`
/// - `body.…` — the provider's JSON payload (for the widget, the submitted fields)
/// - `headers.<lower-case name>` — the headers kept with the event
/// - `client.ip` — the client address (after trusted-proxy resolution)
/// - `captures.<name>` — named groups from `matches` conditions
/// - `steps.<step id>.…` — outputs of earlier steps of the same job (templates only)
public struct EventContext: Sendable {
    public static let roots = ["event", "body", "headers", "client", "captures", "steps"]

    public var eventId: String
    public var eventType: String
    public var eventSource: String
    public var receivedAtMillis: Int64
    public var dedupeKey: String?
    public var body: JSONValue
    public var headers: [String: String]
    public var clientIP: String?
    public var captures: [String: String]
    public var steps: [String: JSONValue]

    public init(id: String, type: String, source: String, receivedAtMillis: Int64, dedupeKey: String?,
                body: JSONValue, headers: [String: String], clientIP: String?,
                captures: [String: String] = [:], steps: [String: JSONValue] = [:]) {
        self.eventId = id
        self.eventType = type
        self.eventSource = source
        self.receivedAtMillis = receivedAtMillis
        self.dedupeKey = dedupeKey
        self.body = body
        self.headers = headers
        self.clientIP = clientIP
        self.captures = captures
        self.steps = steps
    }

    /// The value at `path`, or `nil` when there is none. JSON `null` is returned as
    /// `.null`; callers decide whether that counts as missing.
    public func resolve(_ path: FieldPath) -> JSONValue? {
        switch path.root {
        case "body": return path.resolveTail(in: body)
        case "event":
            guard case .key(let name)? = path.tail.first, path.tail.count == 1 else { return nil }
            switch name {
            case "id": return .string(eventId)
            case "type": return .string(eventType)
            case "source": return .string(eventSource)
            case "receivedAt": return .number(Double(receivedAtMillis))
            case "dedupeKey": return dedupeKey.map(JSONValue.string)
            default: return nil
            }
        case "headers":
            guard case .key(let name)? = path.tail.first, path.tail.count == 1 else { return nil }
            return headers[name.lowercased()].map(JSONValue.string)
        case "client":
            guard case .key("ip")? = path.tail.first, path.tail.count == 1, let clientIP else { return nil }
            return .string(clientIP)
        case "captures":
            guard case .key(let name)? = path.tail.first, path.tail.count == 1 else { return nil }
            return captures[name].map(JSONValue.string)
        case "steps":
            return path.resolveTail(in: .object(steps))
        default:
            return nil
        }
    }
}
