/// Turns one verified request into what must be committed before it is acknowledged:
/// the event and one job per matching rule. Pure — the server reads the body and
/// commits the result; everything decided in between happens here and is tested
/// without sockets.
public struct IngestPlanner: Sendable {
    public let source: SourceConfig
    public let adapter: any WebhookAdapter
    public let secrets: [Secret]

    public init(source: SourceConfig, secrets: [Secret]) {
        self.source = source
        self.adapter = WebhookAdapters.adapter(for: source)
        self.secrets = secrets
    }

    public struct Request: Sendable {
        public var headers: HeaderFields
        public var body: [UInt8]
        public var clientIP: String
        public var receivedAtMillis: Int64

        public init(headers: HeaderFields, body: [UInt8], clientIP: String, receivedAtMillis: Int64) {
            self.headers = headers
            self.body = body
            self.clientIP = clientIP
            self.receivedAtMillis = receivedAtMillis
        }
    }

    /// Checks that need no body, so a bad request is refused before it is read.
    public func precheck(_ headers: HeaderFields) -> IngressError? {
        if source.kind != .widget && secrets.isEmpty {
            return IngressError(status: 503, message: "source \"\(source.name)\" has no secret configured; the operator must set it", retryAfter: 60)
        }
        return adapter.checkContentType(headers)
    }

    /// The paths rules read plus the paths the adapter itself needs (`action`, the
    /// honeypot marker), whichever way the rule set was built.
    func parseFilter(_ rules: RuleSet) -> PathTrie {
        var trie = rules.payloadTrie(for: source.name)
        // Rule sets built by the parser already hold them; only copy when they do not.
        for p in adapter.payloadPaths where p.root == "body" && !trie.contains(p.tail) { trie.insert(p.tail) }
        return trie
    }

    public func plan(_ request: Request, rules: RuleSet, eventId: String) throws(IngressError) -> PlannedEvent {
        if let error = adapter.verify(request.headers, body: request.body, secrets: secrets) { throw error }
        let document = try adapter.payloadDocument(request.headers, body: request.body)
        let payload: JSONValue
        do {
            payload = try JSONParser.parse(document, keeping: parseFilter(rules))
        } catch {
            throw IngressError.invalidJSON(error)
        }
        guard case .object = payload else {
            throw IngressError.badRequest("body must be a JSON object, found \(payload.typeName)")
        }
        let identity = try adapter.identity(request.headers, payload: payload)
        let headers = adapter.headersOfInterest(request.headers)
        var event = PlannedEvent(
            id: eventId, source: source.name, type: identity.type, dedupeKey: identity.dedupeKey,
            receivedAtMillis: request.receivedAtMillis, clientIP: request.clientIP, headers: headers,
            contentType: request.headers["content-type"] ?? "", body: request.body,
            status: .unmatched, jobs: [], discard: identity.discard)
        guard identity.producesWork else {
            event.status = .ignored
            return event
        }
        let context = EventContext(id: eventId, type: identity.type, source: source.name,
                                   receivedAtMillis: request.receivedAtMillis, dedupeKey: identity.dedupeKey,
                                   body: payload, headers: headers, clientIP: request.clientIP)
        let matches = rules.match(source: source.name, type: identity.type, context: context)
        event.jobs = matches.map { PlannedJob(match: $0) }
        event.status = matches.isEmpty ? .unmatched : .planned
        return event
    }
}

/// An accepted event and its planned jobs, ready to be committed in one transaction.
public struct PlannedEvent: Sendable {
    public enum Status: String, Sendable, CaseIterable {
        /// Matched at least one rule; its jobs carry the work.
        case planned
        /// Matched no rule; stored for inspection and replay.
        case unmatched
        /// Never produces work (GitHub `ping`).
        case ignored
    }

    public var id: String
    public var source: String
    public var type: String
    public var dedupeKey: String?
    public var receivedAtMillis: Int64
    public var clientIP: String
    public var headers: [String: String]
    public var contentType: String
    public var body: [UInt8]
    public var status: Status
    public var jobs: [PlannedJob]
    /// A tripped honeypot: answer as if accepted, store nothing.
    public var discard: Bool

    public init(id: String, source: String, type: String, dedupeKey: String?, receivedAtMillis: Int64,
                clientIP: String, headers: [String: String], contentType: String, body: [UInt8],
                status: Status, jobs: [PlannedJob], discard: Bool = false) {
        self.id = id
        self.source = source
        self.type = type
        self.dedupeKey = dedupeKey
        self.receivedAtMillis = receivedAtMillis
        self.clientIP = clientIP
        self.headers = headers
        self.contentType = contentType
        self.body = body
        self.status = status
        self.jobs = jobs
        self.discard = discard
    }
}

public struct PlannedJob: Sendable, Hashable {
    public var ruleId: String
    public var ruleVersion: String
    public var target: String
    public var orderingKey: String?
    public var captures: [String: String]

    public init(ruleId: String, ruleVersion: String, target: String, orderingKey: String?, captures: [String: String]) {
        self.ruleId = ruleId
        self.ruleVersion = ruleVersion
        self.target = target
        self.orderingKey = orderingKey
        self.captures = captures
    }

    init(match: RuleMatch) {
        self.init(ruleId: match.rule.id, ruleVersion: match.rule.versionHash, target: match.rule.target,
                  orderingKey: match.orderingKey, captures: match.captures)
    }
}
