import TaskBridgeCore
import TaskBridgeStore

/// JSON shapes of the admin API (and of `taskbridge events --json`).
public enum AdminJSON {
    static func time(_ millis: Int64) -> JSONValue {
        .string(ISO8601.format(seconds: Double(millis) / 1000))
    }

    public static func event(_ e: EventSummary) -> JSONValue {
        ["id": .string(e.id), "source": .string(e.source), "type": .string(e.type),
         "dedupeKey": e.dedupeKey.map(JSONValue.string) ?? .null, "receivedAt": time(e.receivedAtMillis),
         "status": .string(e.status), "jobs": .number(Double(e.jobs)), "delivery": .string(e.delivery)]
    }

    /// `taskLinks`: each target's `taskLink`, to link the tasks its jobs made.
    public static func job(_ j: JobSummary, taskLinks: [String: TaskLinkTemplate] = [:]) -> JSONValue {
        let outputs = (try? JSONParser.parse(j.outputs)) ?? .object([:])
        return ["id": .string(j.id), "event": .string(j.eventId), "source": .string(j.source), "type": .string(j.type),
         "rule": .string(j.ruleId), "ruleVersion": .string(j.ruleVersion), "generation": .number(Double(j.generation)), "target": .string(j.target), "orderingKey": j.orderingKey.map(JSONValue.string) ?? .null,
         "state": .string(j.state), "step": .number(Double(j.step)), "attempts": .number(Double(j.attempts)),
         "dueAt": time(j.dueAtMillis), "createdAt": time(j.createdAtMillis), "updatedAt": time(j.updatedAtMillis),
         "lastError": j.lastError.map(JSONValue.string) ?? .null,
         "outputs": outputs, "links": .array(links(outputs, taskLink: taskLinks[j.target]))]
    }

    /// Links to what the job made in its target: every http(s) URL in an output field whose
    /// name ends in `url` (`0.pr_url`), titled by its key path, and each `task` object's page
    /// when the target has a `taskLink` (titled `task <id>`).
    static func links(_ outputs: JSONValue, taskLink: TaskLinkTemplate? = nil) -> [JSONValue] {
        var found: [JSONValue] = []
        func walk(_ value: JSONValue, _ path: String) {
            if let taskLink, path == "task" || path.hasSuffix(".task"), case .object(let task) = value,
               let url = taskLink.url(for: task), found.count < 20 {
                found.append(["title": .string("task \(task["id"]?.stringValue ?? "")"), "url": .string(url)])
            }
            switch value {
            // Only fields named as addresses (`pr_url`, `html_url`, `url`): a URL inside a task's
            // description may come from whoever sent the webhook and must not look like the target's.
            case .string(let s) where (s.hasPrefix("https://") || s.hasPrefix("http://")) && found.count < 20
                && (path.split(separator: ".").last.map { $0.lowercased().hasSuffix("url") } ?? false):
                found.append(["title": .string(path), "url": .string(s)])
            case .object(let members):
                for (key, member) in members.sorted(by: { $0.key < $1.key }) { walk(member, path.isEmpty ? key : "\(path).\(key)") }
            case .array(let items):
                for (i, item) in items.enumerated() { walk(item, "\(path)[\(i)]") }
            default: break
            }
        }
        walk(outputs, "")
        return found
    }

    public static func attempt(_ a: AttemptRecord) -> JSONValue {
        ["step": .number(Double(a.step)), "startedAt": time(a.startedAtMillis), "latencyMs": .number((a.latencyMillis * 10).rounded() / 10),
         "status": a.status.map { .number(Double($0)) } ?? .null, "outcome": .string(a.outcome),
         "error": a.error.map(JSONValue.string) ?? .null, "request": a.request.map(JSONValue.string) ?? .null,
         "response": a.response.map(JSONValue.string) ?? .null]
    }

    public static func detail(_ d: EventDetail, taskLinks: [String: TaskLinkTemplate] = [:]) -> JSONValue {
        // The rules that matched the latest planning: a replay's jobs replace the earlier ones'.
        let latest = d.jobs.map(\.generation).max()
        let latestJobs = d.jobs.filter { $0.generation == latest }
        let e = d.event
        let payload: JSONValue = (try? JSONParser.parse(e.body)) ?? .string(String(decoding: e.body, as: UTF8.self))
        var jobs: [JSONValue] = []
        for j in d.jobs {
            var o = job(j, taskLinks: taskLinks).objectValue ?? [:]
            o["attempts"] = .array((d.attempts[j.id] ?? []).map(attempt))
            jobs.append(.object(o))
        }
        return ["id": .string(e.id), "source": .string(e.source), "type": .string(e.type),
                "dedupeKey": e.dedupeKey.map(JSONValue.string) ?? .null, "receivedAt": time(e.receivedAtMillis),
                "clientIp": e.clientIP.map(JSONValue.string) ?? .null, "status": .string(e.status),
                "delivery": .string(DeliveryStatus.of(d.jobs.map { ($0.state, $0.lastError, $0.generation) }).rawValue),
                "headers": .object(e.headers.mapValues(JSONValue.string)), "contentType": .string(e.contentType),
                "payload": payload, "matchedRules": .array(latestJobs.map { .string($0.ruleId) }), "jobs": .array(jobs)]
    }
}
