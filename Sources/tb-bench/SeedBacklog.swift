import ArgumentParser
import Foundation
import Logging
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeStore

/// Writes a backlog of planned jobs straight into the config's store, the way ingest
/// would have (real Sentry payload, derived per issue; jobs planned by the configured
/// rules), so delivery can be measured without waiting for ingest.
struct SeedBacklog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed", abstract: "Fill a data directory with planned jobs.")
    @Option var config: String
    @Option(name: .customLong("data-dir")) var dataDir: String
    @Option var events = 100_000
    @Option(help: "Real Sentry payload to derive events from (data.issue.id is set per event).") var payload: String
    @Option(help: "Event action: resolved (task.complete rules) or created.") var action = "resolved"

    func run() async throws {
        let loaded = try ConfigLoader.load(configPath: config)
        var logger = Logger(label: "seed")
        logger.logLevel = .warning
        // The config's store (SQLite under --data-dir, or its PostgreSQL database); a
        // SQLite seed skips the per-commit fsync, which only slows the setup.
        var storage = loaded.config.storage
        storage.synchronous = .normal
        let store = try await StoreOpener.open(storage, dataDirectory: dataDir, role: .server, logger: logger)
        try await store.saveRuleVersions(loaded.rules.rules)
        guard let data = FileManager.default.contents(atPath: payload),
              case .object(var root) = try JSONParser.parse([UInt8](data)),
              case .object(var dataObject)? = root["data"], case .object(var issue)? = dataObject["issue"] else {
            throw ValidationError("\(payload) is not a Sentry issue payload")
        }
        root["action"] = .string(action)
        let started = ContinuousClock.now
        let chunk = 2_000
        var next = 0
        var jobs = 0
        while next < events {
            let upper = min(events, next + chunk)
            let planned: [PlannedEvent] = (next..<upper).map { i in
                issue["id"] = .string(String(i + 1))
                dataObject["issue"] = .object(issue)
                root["data"] = .object(dataObject)
                let body = JSONWriter.serializeBytes(.object(root))
                let now = WallClock.nowMillis()
                let id = Identifier.make(prefix: "evt", millis: now)
                let type = "issue.\(action)"
                let context = EventContext(id: id, type: type, source: "sentry", receivedAtMillis: now, dedupeKey: "seed-\(i)",
                                           body: .object(root), headers: [:], clientIP: "127.0.0.1")
                let matched = loaded.rules.match(source: "sentry", type: type, context: context).map {
                    PlannedJob(ruleId: $0.rule.id, ruleVersion: $0.rule.versionHash, target: $0.rule.target,
                               orderingKey: $0.orderingKey, captures: $0.captures)
                }
                return PlannedEvent(id: id, source: "sentry", type: type, dedupeKey: "seed-\(i)", receivedAtMillis: now,
                                    clientIP: "127.0.0.1", headers: ["sentry-hook-resource": "issue"], contentType: "application/json",
                                    body: body, status: matched.isEmpty ? .unmatched : .planned, jobs: matched)
            }
            jobs += planned.reduce(0) { $0 + $1.jobs.count }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for e in planned { group.addTask { _ = try await store.ingest(e) } }
                try await group.waitForAll()
            }
            next = upper
        }
        try await store.close()
        let seconds = Double((ContinuousClock.now - started).components.seconds)
        print("seeded \(events) events, \(jobs) jobs in \(Int(seconds)) s")
    }
}
