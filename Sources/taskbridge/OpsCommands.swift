import ArgumentParser
import TaskBridgeCore

/// Filters shared by `events` and `dlq`.
struct FilterOptions: ParsableArguments {
    @Option(help: "Only this source.") var source: String?
    @Option(help: "Only this event type, e.g. issue.created.") var type: String?
    @Option(help: "From this time (ISO 8601 or Unix ms).") var since: String?
    @Option(help: "Before this time (ISO 8601 or Unix ms).") var until: String?
    @Option(help: "At most this many rows (1–1000).") var limit: Int = 50

    var query: [String: String] {
        var q: [String: String] = ["limit": String(limit)]
        q["source"] = source
        q["type"] = type
        q["since"] = since
        q["until"] = until
        return q
    }
}

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "List stored events, or show one with its jobs and attempts.")

    @OptionGroup var ops: OpsOptions
    @OptionGroup var filter: FilterOptions
    @Option(help: "Only events with this status: planned, unmatched, ignored.") var status: String?
    @Argument(help: "Show this event in full.") var id: String?

    func run() async throws {
        if let id {
            print(JSONWriter.serialize(try await ops.withBackend { try await $0.get("events/\(id)", [:]) }))
            return
        }
        var q = filter.query
        q["status"] = status
        let result = try await ops.withBackend { try await $0.get("events", q) }
        if ops.json { print(JSONWriter.serialize(result)); return }
        let rows = (result["events"]?.arrayValue ?? []).map { e in
            [e["id"]?.textValue ?? "", e["receivedAt"]?.textValue ?? "", e["source"]?.textValue ?? "", e["type"]?.textValue ?? "",
             e["status"]?.textValue ?? "", e["jobs"]?.textValue ?? ""]
        }
        print(Table.render(["EVENT", "RECEIVED", "SOURCE", "TYPE", "STATUS", "JOBS"], rows))
    }
}

struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "Dead letters: jobs that failed permanently or ran out of retries.",
        subcommands: [List.self, Retry.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead-lettered jobs with their last error.")
        @OptionGroup var ops: OpsOptions
        @OptionGroup var filter: FilterOptions
        @Option(help: "Only this rule id.") var rule: String?
        @Option(help: "Only this target.") var target: String?

        func run() async throws {
            var q = filter.query
            q["state"] = "dead"
            q["rule"] = rule
            q["target"] = target
            let result = try await ops.withBackend { try await $0.get("jobs", q) }
            if ops.json { print(JSONWriter.serialize(result)); return }
            let rows = (result["jobs"]?.arrayValue ?? []).map { j in
                [j["id"]?.textValue ?? "", j["event"]?.textValue ?? "", j["rule"]?.textValue ?? "", j["updatedAt"]?.textValue ?? "",
                 String((j["lastError"]?.textValue ?? "").prefix(100))]
            }
            print(Table.render(["JOB", "EVENT", "RULE", "FAILED AT", "LAST ERROR"], rows))
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make dead-lettered jobs due again: one by id, or every one matching the filters (--all).")
        @OptionGroup var ops: OpsOptions
        @OptionGroup var filter: FilterOptions
        @Option(help: "Only this rule id.") var rule: String?
        @Option(help: "Only this target.") var target: String?
        @Flag(help: "Retry every dead letter matching the filters.") var all = false
        @Argument(help: "The job to retry.") var job: String?

        func validate() throws {
            if job == nil && !all { throw ValidationError("name a job, or pass --all (with optional filters) to retry many") }
        }

        func run() async throws {
            if let job {
                let r = try await ops.withBackend { try await $0.post("jobs/\(job)/retry", [:]) }
                print(ops.json ? JSONWriter.serialize(r) : "job \(job) is due again")
                return
            }
            var q = filter.query
            q["limit"] = nil
            q["rule"] = rule
            q["target"] = target
            let r = try await ops.withBackend { try await $0.post("dead-letters/retry", q) }
            print(ops.json ? JSONWriter.serialize(r) : "\(r["retried"]?.textValue ?? "0") dead letter(s) are due again")
        }
    }
}

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay", abstract: "Run a stored event through the current rules again, planning new jobs.")
    @OptionGroup var ops: OpsOptions
    @Argument(help: "The event id (evt_…).") var eventId: String

    func run() async throws {
        let r = try await ops.withBackend { try await $0.post("events/\(eventId)/replay", [:]) }
        if ops.json { print(JSONWriter.serialize(r)); return }
        let jobs = r["jobs"]?.arrayValue?.map(\.textValue) ?? []
        print(jobs.isEmpty ? "no rule matches event \(eventId) now" : "planned \(jobs.count) job(s): \(jobs.joined(separator: ", "))")
    }
}

enum Table {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        if rows.isEmpty { return "(none)" }
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
                .joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
