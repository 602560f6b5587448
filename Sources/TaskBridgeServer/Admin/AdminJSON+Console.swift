import TaskBridgeCore
import TaskBridgeStore

/// The shapes of the routes the console reads beside the CLI's: targets and rules.
extension AdminJSON {
    static func target(_ t: TargetConfig, status: TargetStatusBoard.Entry?, stats: QueueStats) -> JSONValue {
        let counts = stats.jobsByTargetState[t.name] ?? [:]
        var o: [String: JSONValue] = [
            "name": .string(t.name), "kind": .string(t.kind),
            "queueDepth": .number(Double(stats.dueByTarget[t.name] ?? 0)),
            "oldestDueAgeSeconds": stats.oldestDueAgeSeconds[t.name].map { .number(($0 * 10).rounded() / 10) } ?? .null,
            "jobs": .object(Dictionary(uniqueKeysWithValues: [JobState.pending, .running, .waiting, .dead].map {
                ($0.rawValue, JSONValue.number(Double(counts[$0.rawValue] ?? 0)))
            })),
        ]
        if let status {
            o["breaker"] = .string(["closed", "half-open", "open"][max(0, min(2, status.gate.breakerGauge))])
            o["reopensInSeconds"] = status.gate.breakerReopensIn().map { .number(($0 * 10).rounded() / 10) } ?? .null
            o["authPaused"] = status.gate.authPauseReason.map(JSONValue.string) ?? .null
            o["authFailures"] = .number(Double(status.gate.authRefusals))
            o["unavailable"] = status.unavailableReason.map(JSONValue.string) ?? .null
        } else {
            // This process runs no dispatcher (an operator tool or ingress-only): nothing to say about gates.
            o["breaker"] = .null
            o["reopensInSeconds"] = .null
            o["authPaused"] = .null
            o["authFailures"] = .null
            o["unavailable"] = .null
        }
        return .object(o)
    }

    static func rules(_ set: RuleSet, status: RuleStatusBoard.Status, files: [String]) -> JSONValue {
        ["version": .string(set.version),
         "loadedAt": status.loadedAtMillis.map(time) ?? .null,
         "lastReloadAt": status.lastReloadAtMillis.map(time) ?? .null,
         "lastReloadError": status.lastReloadError.map(JSONValue.string) ?? .null,
         "files": .array(files.map(JSONValue.string)),
         "rules": .array(set.rules.map { r in
             ["id": .string(r.id), "description": r.description.map(JSONValue.string) ?? .null,
              "sources": .array(r.sources.map(JSONValue.string)), "events": .array(r.events.map { .string($0.pattern) }),
              "target": .string(r.target), "enabled": .bool(r.enabled), "file": .string(r.file), "version": .string(r.versionHash)]
         })]
    }
}
