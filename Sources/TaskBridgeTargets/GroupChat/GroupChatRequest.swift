import TaskBridgeCore

/// One call to the GroupChat Workspace API, described without credentials.
public struct GroupChatRequest: Sendable, Hashable, CustomStringConvertible {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var body: JSONValue?
    /// `body` already serialized (`JSONWriter.serialize`), when the caller has the text:
    /// a 200-operation batch is then serialized once, not once to send and again to record.
    public var bodyText: String?
    public var idempotencyKey: String?

    public init(method: String, path: String, query: [String: String] = [:], body: JSONValue? = nil,
                bodyText: String? = nil, idempotencyKey: String? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.bodyText = bodyText
        self.idempotencyKey = idempotencyKey
    }

    /// The body as sent: `bodyText`, or `body` serialized with sorted keys.
    public var serializedBody: String? { bodyText ?? body.map(JSONWriter.serialize) }

    public var pathWithQuery: String {
        guard !query.isEmpty else { return path }
        return path + "?" + query.keys.sorted().map { FormURLEncoding.encode([($0, query[$0]!)]) }.joined(separator: "&")
    }

    /// `PATCH /api/v1/tasks {"id":"…","stageId":"…"}` — the form stored with attempts
    /// and printed by dry runs.
    public var description: String {
        var s = "\(method) \(pathWithQuery)"
        if let text = serializedBody { s += " " + text }
        return s
    }
}

/// An answer from GroupChat.
public struct GroupChatResponse: Sendable, Hashable {
    public var status: Int
    public var body: [UInt8]
    public var retryAfter: String?

    public init(status: Int, body: [UInt8], retryAfter: String? = nil) {
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
    }

    public var json: JSONValue? { try? JSONParser.parse(body) }

    /// The `{"error": "…"}` message, or a bounded excerpt of the body.
    public var errorMessage: String {
        if let e = json?["error"]?.stringValue { return e }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        return text.isEmpty ? "(empty body)" : text
    }
}
