import TaskBridgeCore
import TaskBridgeStore

/// Replays a stored event through the current rules: the jobs it gets are planned as if
/// it had just arrived (its original signature was verified when it was received).
public struct EventReplanner: Sendable {
    public let config: TaskBridgeConfig
    public let rules: RuleSet

    public init(config: TaskBridgeConfig, rules: RuleSet) {
        self.config = config
        self.rules = rules
    }

    public enum ReplayError: Error, CustomStringConvertible {
        case unknownEvent(String)
        case sourceGone(String)
        case unreadable(String)

        public var description: String {
            switch self {
            case .unknownEvent(let id): "no event \(id)"
            case .sourceGone(let s): "source \(s) is no longer configured"
            case .unreadable(let why): "the stored payload cannot be read: \(why)"
            }
        }
    }

    public func plan(_ event: StoredEvent) throws(ReplayError) -> [PlannedJob] {
        guard let source = config.sources[event.source] else { throw .sourceGone(event.source) }
        if event.status == PlannedEvent.Status.ignored.rawValue { return [] }
        let payload: JSONValue
        do {
            var headers = HeaderFields()
            headers.append("content-type", event.contentType)
            let document = try WebhookAdapters.adapter(for: source).payloadDocument(headers, body: event.body)
            payload = try JSONParser.parse(document, keeping: rules.payloadTrie(for: event.source))
        } catch {
            throw .unreadable("\(error)")
        }
        let context = EventContext(id: event.id, type: event.type, source: event.source, receivedAtMillis: event.receivedAtMillis,
                                   dedupeKey: event.dedupeKey, body: payload, headers: event.headers, clientIP: event.clientIP)
        return rules.match(source: event.source, type: event.type, context: context).map {
            PlannedJob(ruleId: $0.rule.id, ruleVersion: $0.rule.versionHash, target: $0.rule.target,
                       orderingKey: $0.orderingKey, captures: $0.captures)
        }
    }

    /// Plans and stores the replay; returns the new job ids.
    public func replay(eventId: String, store: any Store) async throws -> [String] {
        guard let detail = try await store.eventDetail(id: eventId) else { throw ReplayError.unknownEvent(eventId) }
        let jobs = try plan(detail.event)
        try await store.saveRuleVersions(rules.rules)
        return try await store.addJobs(eventId: eventId, jobs: jobs, nowMillis: WallClock.nowMillis())
    }
}
