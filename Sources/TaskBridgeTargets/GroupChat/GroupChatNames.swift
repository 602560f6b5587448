import TaskBridgeCore

/// Resolving the names users write (stage "In review", owner "Ada Lovelace", agent
/// "Triage bot") to GroupChat ids. Pure: it looks only at the lists it is given.
public enum GroupChatNames {
    public enum Match: Sendable, Hashable {
        case found(JSONValue)
        case notFound(known: [String])
        case ambiguous([String])
    }

    /// The four board types a stage can be addressed by.
    public static let stageTypes = ["todo", "doing", "in_review", "done"]

    static func normalizedType(_ s: String) -> String {
        s.lowercased().replacingSpaces(with: "_")
    }

    /// By id, then by exact name (case-insensitive).
    public static func project(_ ref: String, in projects: [JSONValue]) -> Match {
        byIdThenName(ref, projects, idKeys: ["id"], nameKey: "name")
    }

    /// Within one project: by id, then title (case-insensitive), then type (`todo`,
    /// `doing`, `in_review`, `done`; the first column of that type in board order).
    public static func stage(_ ref: String, projectId: String, in statuses: [JSONValue]) -> Match {
        let columns = statuses.filter { $0["projectId"]?.stringValue == projectId }
            .sorted { ($0["order"]?.numberValue ?? 0) < ($1["order"]?.numberValue ?? 0) }
        if let hit = columns.first(where: { $0["id"]?.stringValue == ref }) { return .found(hit) }
        let lower = ref.lowercased()
        let byTitle = columns.filter { $0["title"]?.stringValue?.lowercased() == lower }
        if byTitle.count == 1 { return .found(byTitle[0]) }
        if byTitle.count > 1 { return .ambiguous(byTitle.compactMap { $0["id"]?.stringValue }) }
        let type = normalizedType(ref)
        if stageTypes.contains(type), let first = columns.first(where: { $0["type"]?.stringValue == type }) {
            return .found(first)
        }
        return .notFound(known: columns.compactMap { c in
            c["title"]?.stringValue.map { "\($0) (\(c["type"]?.stringValue ?? "?"))" }
        })
    }

    /// By user id, member id, then name. The task owner is the member's `userId`.
    public static func member(_ ref: String, in members: [JSONValue]) -> Match {
        byIdThenName(ref, members, idKeys: ["userId", "id"], nameKey: "name")
    }

    /// By `agentUserId`, then name.
    public static func agent(_ ref: String, in agents: [JSONValue]) -> Match {
        byIdThenName(ref, agents, idKeys: ["agentUserId", "userId", "id"], nameKey: "name")
    }

    static func byIdThenName(_ ref: String, _ items: [JSONValue], idKeys: [String], nameKey: String) -> Match {
        for key in idKeys {
            if let hit = items.first(where: { $0[key]?.stringValue == ref }) { return .found(hit) }
        }
        let lower = ref.lowercased()
        let byName = items.filter { $0[nameKey]?.stringValue?.lowercased() == lower }
        if byName.count == 1 { return .found(byName[0]) }
        if byName.count > 1 { return .ambiguous(byName.compactMap { $0[idKeys[0]]?.stringValue ?? $0["id"]?.stringValue }) }
        return .notFound(known: items.compactMap { $0[nameKey]?.stringValue })
    }

    /// A list response: a bare array, or an object wrapping one (`{"agents": […]}`).
    public static func items(_ value: JSONValue?, key: String) -> [JSONValue]? {
        switch value {
        case .array(let a)?: return a
        case .object(let o)?:
            if case .array(let a)? = o[key] { return a }
            if case .array(let a)? = o["data"] { return a }
            return nil
        default: return nil
        }
    }
}

extension String {
    func replacingSpaces(with sep: String) -> String {
        split(whereSeparator: { $0 == " " || $0 == "-" }).joined(separator: sep)
    }
}
