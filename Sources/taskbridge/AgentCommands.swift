import ArgumentParser
import TaskBridgeCore
import TaskBridgeServer

struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "The configured GroupChat agents: backend, limits, runs by state and (with --url) their GroupChat identity.")
    @OptionGroup var ops: OpsOptions

    func run() async throws {
        let result = try await ops.withBackend { try await $0.get("agents", [:]) }
        if ops.json { print(JSONWriter.serialize(result)); return }
        let rows = (result["agents"]?.arrayValue ?? []).map { a -> [String] in
            let identity = a["identity"].flatMap { $0.isNull ? JSONValue?.none : $0 }
            let who = identity.map { "\($0["name"]?.textValue ?? "?") (\($0["agentUserId"]?.textValue ?? "?"), owner \($0["ownerName"]?.textValue ?? "?"))" }
                ?? (a["problem"]?.stringValue ?? (a["identity"] == nil ? "(run with --url for the identity)" : "(unknown yet)"))
            let runs = (a["runs"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.textValue)" }.joined(separator: ", ")
            let backend = a["backend"]
            return [a["name"]?.textValue ?? "", "\(backend?["kind"]?.textValue ?? "") → \(backend?["target"]?.textValue ?? "")",
                    who, runs.isEmpty ? "none" : runs]
        }
        print(Table.render(["AGENT", "BACKEND", "GROUPCHAT IDENTITY", "RUNS"], rows))
    }
}

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "Agent runs TaskBridge works, or one run with its backend progress and every call made.")
    @OptionGroup var ops: OpsOptions
    @Option(help: "Only this agent.") var agent: String?
    @Option(help: "Only runs in this state: queued, starting, working, finishing, done, completed, failed, stopped.") var state: String?
    @Option(help: "At most this many rows (1–1000).") var limit: Int = 50
    @Argument(help: "Show this run in full.") var id: String?

    func validate() throws {
        if let state, !AdminJSON.agentRunStates.contains(state) {
            throw ValidationError("--state must be one of \(AdminJSON.agentRunStates.joined(separator: ", "))")
        }
        if !(1...1000).contains(limit) { throw ValidationError("--limit must be 1 to 1000") }
    }

    func run() async throws {
        if let id {
            let run = try await ops.withBackend { try await $0.get("runs/\(id)", [:]) }
            if ops.json { print(JSONWriter.serialize(run)); return }
            print(Self.describe(run))
            return
        }
        var q: [String: String] = ["limit": String(limit)]
        q["agent"] = agent
        q["state"] = state
        let result = try await ops.withBackend { try await $0.get("runs", q) }
        if ops.json { print(JSONWriter.serialize(result)); return }
        let rows = (result["runs"]?.arrayValue ?? []).map { r in
            [r["id"]?.textValue ?? "", r["agent"]?.textValue ?? "", r["state"]?.textValue ?? "", r["task"]?["id"]?.textValue ?? "",
             r["backend"]?["status"]?.textValue ?? "", r["backend"]?["prUrl"]?.textValue ?? "", r["startedAt"]?.textValue ?? "",
             String((r["error"]?.textValue ?? r["lastError"]?.textValue ?? "").prefix(80))]
        }
        print(Table.render(["RUN", "AGENT", "STATE", "TASK", "BACKEND", "PR", "STARTED", "ERROR"], rows))
    }

    static func describe(_ r: JSONValue) -> String {
        var lines = ["run \(r["id"]?.textValue ?? "?") (agent \(r["agent"]?.textValue ?? "?"), turn \(r["turn"]?.textValue ?? "1")): \(r["state"]?.textValue ?? "?")"]
        lines.append("  task \(r["task"]?["id"]?.textValue ?? "?")  \(r["task"]?["title"]?.textValue ?? "")")
        for key in ["appearedAt", "startedAt", "finishedAt", "pickupSeconds", "costUsd", "error", "lastError", "pendingIntent"] {
            if let v = r[key], !v.isNull { lines.append("  \(key): \(v.textValue)") }
        }
        if let b = r["backend"] {
            let parts = ["kind", "target", "step", "taskId", "taskSlug", "runId", "status", "branch", "prUrl"].compactMap { k -> String? in
                guard let v = b[k], !v.isNull else { return nil }
                return "\(k) \(v.textValue)"
            }
            lines.append("  backend: " + parts.joined(separator: ", "))
        }
        if let s = r["summary"]?.stringValue { lines.append("  summary: " + String(s.prefix(500))) }
        let calls = r["calls"]?.arrayValue ?? []
        lines.append("  calls (\(calls.count)):")
        for c in calls {
            lines.append("    \(c["at"]?.textValue ?? "")  \(c["api"]?.textValue ?? "")  \(c["status"].flatMap { $0.isNull ? nil : $0.textValue } ?? "---")  \(String((c["request"]?.textValue ?? "").prefix(160)))")
        }
        return lines.joined(separator: "\n")
    }
}
