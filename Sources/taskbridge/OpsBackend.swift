import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeStore

/// Where operator commands work: the data directory directly, or a running service's
/// admin API (`--url`/`TASKBRIDGE_ADMIN_URL` with `--token`/`TASKBRIDGE_ADMIN_TOKEN`).
/// Both answer with the admin API's JSON shapes.
protocol OpsBackend {
    func get(_ path: String, _ query: [String: String]) async throws -> JSONValue
    func post(_ path: String, _ query: [String: String]) async throws -> JSONValue
    func close() async
}

struct OpsOptions: ParsableArguments {
    @OptionGroup var config: ConfigOption
    @OptionGroup var data: DataDirOption
    @Option(help: "Admin API base URL of a running service, e.g. http://127.0.0.1:8080 (default: $TASKBRIDGE_ADMIN_URL). Without it, the data directory is used directly.")
    var url: String?
    @Option(help: "Admin token for --url (default: $TASKBRIDGE_ADMIN_TOKEN).") var token: String?
    @Flag(help: "Print JSON.") var json = false

    /// Runs `body` with a backend and always closes it, also when `body` fails.
    func withBackend<T>(_ body: (any OpsBackend) async throws -> T) async throws -> T {
        let backend = try await self.backend()
        do {
            let result = try await body(backend)
            await backend.close()
            return result
        } catch {
            await backend.close()
            throw error
        }
    }

    func backend() async throws -> any OpsBackend {
        let env = ProcessInfo.processInfo.environment
        if let url = url ?? env["TASKBRIDGE_ADMIN_URL"].flatMap({ $0.isEmpty ? nil : $0 }) {
            guard let token = token ?? env["TASKBRIDGE_ADMIN_TOKEN"].flatMap({ $0.isEmpty ? nil : $0 }) else {
                throw ValidationError("--url needs an admin token: --token or TASKBRIDGE_ADMIN_TOKEN")
            }
            return APIBackend(base: url.hasSuffix("/") ? String(url.dropLast()) : url, token: token)
        }
        let loaded = try config.load()
        let dir = data.resolve(loaded.config)
        let store: any Store
        do {
            store = try await StoreOpener.open(loaded.config.storage, dataDirectory: dir, role: .tool, logger: Logger(label: "taskbridge.tool"))
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        return DirectBackend(store: store, loaded: loaded)
    }
}

struct DirectBackend: OpsBackend {
    let store: any Store
    let loaded: ConfigLoader.Loaded

    func time(_ q: [String: String], _ key: String) throws -> Int64? {
        guard let raw = q[key] else { return nil }
        if let ms = Int64(raw) { return ms }
        guard let ms = ISO8601.parseMillis(raw) else { throw ValidationError("--\(key) \(raw): use ISO 8601 (2026-11-22T10:00:00Z) or Unix ms") }
        return ms
    }

    func jobFilter(_ q: [String: String]) throws -> JobFilter {
        JobFilter(source: q["source"], type: q["type"], state: q["state"], target: q["target"], ruleId: q["rule"],
                  sinceMillis: try time(q, "since"), untilMillis: try time(q, "until"), limit: Int(q["limit"] ?? "") ?? 100)
    }

    func get(_ path: String, _ q: [String: String]) async throws -> JSONValue {
        if path == "events" {
            let events = try await store.listEvents(EventFilter(source: q["source"], type: q["type"], status: q["status"],
                                                                sinceMillis: try time(q, "since"), untilMillis: try time(q, "until"),
                                                                limit: Int(q["limit"] ?? "") ?? 100))
            return ["events": .array(events.map(AdminJSON.event))]
        }
        if path.hasPrefix("events/") {
            let id = String(path.dropFirst(7))
            guard let detail = try await store.eventDetail(id: id) else { throw ValidationError("no event \(id)") }
            return AdminJSON.detail(detail, taskLinks: loaded.config.targets.compactMapValues(\.taskLink))
        }
        if path == "agents" {
            let counts = try await store.agentRunCounts()
            let agents = loaded.config.agents.keys.sorted().compactMap { loaded.config.agents[$0] }
            return ["agents": .array(agents.map { AdminJSON.agent($0, status: nil, counts: counts) })]
        }
        if path == "runs" {
            let runs = try await store.listAgentRuns(agent: q["agent"], phase: q["state"], limit: Int(q["limit"] ?? "") ?? 100)
            return ["runs": .array(runs.map(AdminJSON.agentRun))]
        }
        if path.hasPrefix("runs/") {
            let id = String(path.dropFirst(5))
            guard let run = try await store.agentRun(id: id) else { throw ValidationError("no agent run \(id)") }
            return AdminJSON.agentRunDetail(run, calls: try await store.agentRunCalls(runId: id, limit: 10_000))
        }
        let jobs = try await store.listJobs(try jobFilter(q))
        let links = loaded.config.targets.compactMapValues(\.taskLink)
        return ["jobs": .array(jobs.map { AdminJSON.job($0, taskLinks: links) })]
    }

    func post(_ path: String, _ q: [String: String]) async throws -> JSONValue {
        let now = WallClock.nowMillis()
        if path.hasPrefix("jobs/"), path.hasSuffix("/retry") {
            let id = String(path.dropFirst(5).dropLast(6))
            guard try await store.retryJob(id: id, nowMillis: now) else { throw ValidationError("job \(id) is unknown, running or already succeeded") }
            return ["job": .string(id), "state": "pending"]
        }
        if path == "dead-letters/retry" {
            return ["retried": .number(Double(try await store.retryDeadJobs(try jobFilter(q), nowMillis: now)))]
        }
        let id = String(path.dropFirst(7).dropLast(7))
        let ids = try await EventReplanner(config: loaded.config, rules: loaded.rules).replay(eventId: id, store: store)
        return ["event": .string(id), "jobs": .array(ids.map(JSONValue.string))]
    }

    func close() async { try? await store.close() }
}

struct APIBackend: OpsBackend {
    let base: String
    let token: String
    let client = HTTPClient(eventLoopGroupProvider: .singleton)

    func call(_ method: HTTPMethod, _ path: String, _ q: [String: String]) async throws -> JSONValue {
        let query = q.isEmpty ? "" : "?" + FormURLEncoding.encode(q.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        var request = HTTPClientRequest(url: "\(base)/admin/api/\(path)\(query)")
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        let value = try? JSONParser.parse(Array(buffer: body))
        guard response.status.code < 300 else {
            throw ValidationError("admin API answered \(response.status.code): \(value?["error"]?.stringValue ?? "no details")")
        }
        return value ?? .null
    }

    func get(_ path: String, _ q: [String: String]) async throws -> JSONValue { try await call(.GET, path, q) }
    func post(_ path: String, _ q: [String: String]) async throws -> JSONValue { try await call(.POST, path, q) }
    func close() async { try? await client.shutdown() }
}
