import ArgumentParser
import AsyncHTTPClient
import Foundation
import TaskBridgeCore
import TaskBridgeServer

struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Dry-run a payload through the rules and print the requests the steps would send.",
        discussion: "Nothing is sent unless --live is given. Signatures are not checked: this tests rules, not secrets.")

    @OptionGroup var config: ConfigOption
    @Option(help: "Source name from the config (github, sentry, widget, …).") var source: String
    @Option(help: "File holding the webhook body.") var payload: String
    @Option(name: .customLong("header"), help: "A request header, 'Name: value' (repeatable), e.g. 'X-GitHub-Event: pull_request'.")
    var headers: [String] = []
    @Flag(help: "Print JSON instead of text.") var json = false
    @Flag(help: "Also say why each other rule did not match.") var explain = false
    @Flag(help: "Send the requests to the configured target for real.") var live = false

    func run() async throws {
        let loaded = try config.load()
        guard let body = FileManager.default.contents(atPath: payload) else {
            printError("cannot read payload file \(payload)")
            throw ExitCode(1)
        }
        var fields = HeaderFields()
        for h in headers {
            guard let colon = h.firstIndex(of: ":") else { throw ValidationError("header \"\(h)\" is not 'Name: value'") }
            fields.append(String(h[..<colon]).trimmingCharacters(in: .whitespaces),
                          String(h[h.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        let client = live ? HTTPClient(eventLoopGroupProvider: .singleton) : nil
        let dry = DryRun(config: loaded.config, rules: loaded.rules, environment: ProcessInfo.processInfo.environment)
        let report: DryRun.Report
        do {
            report = try await dry.run(source: source, headers: fields, body: [UInt8](body), live: live, client: client)
            try? await client?.shutdown()
        } catch {
            try? await client?.shutdown()
            printError(error.description)
            throw ExitCode(1)
        }
        print(json ? JSONWriter.serialize(DryRunFormat.json(report, explain: explain)) : DryRunFormat.text(report, explain: explain, live: live))
    }
}

enum DryRunFormat {
    static func json(_ r: DryRun.Report, explain: Bool) -> JSONValue {
        var o: [String: JSONValue] = [
            "source": .string(r.source), "type": .string(r.type), "dedupeKey": r.dedupeKey.map(JSONValue.string) ?? .null,
            "producesWork": .bool(r.producesWork),
            "matched": .array(r.matches.map { m in
                ["rule": .string(m.ruleId), "file": .string(m.file), "orderingKey": m.orderingKey.map(JSONValue.string) ?? .null,
                 "captures": .object(m.captures.mapValues(JSONValue.string)),
                 "steps": .array(m.steps.map { s in
                     ["index": .number(Double(s.index)), "id": .string(s.id), "action": .string(s.action), "target": .string(s.target),
                      "error": s.error.map(JSONValue.string) ?? .null,
                      "waits": .array(s.waits.map { .number($0) }),
                      "requests": .array(s.requests.map { q in
                          ["method": .string(q.method), "path": .string(q.path),
                           "headers": .object(Dictionary(q.headers.map { ($0.0, JSONValue.string($0.1)) }, uniquingKeysWith: { a, _ in a })),
                           "body": q.body ?? .null]
                      })]
                 })]
            }),
        ]
        if explain { o["notMatched"] = .array(r.notMatched.map { ["rule": .string($0.rule), "reason": .string($0.reason)] }) }
        return .object(o)
    }

    static func text(_ r: DryRun.Report, explain: Bool, live: Bool) -> String {
        var out = "event: \(r.type) (source \(r.source)\(r.dedupeKey.map { ", dedupe key \($0)" } ?? ""))\n"
        if !r.producesWork { return out + "this event type never produces work\n" }
        out += "matched \(r.matches.count) rule\(r.matches.count == 1 ? "" : "s")\(live ? " (live: requests were sent)" : " (dry run: nothing was sent)")\n"
        for m in r.matches {
            out += "\n● \(m.ruleId)  (\(m.file))\n"
            if let k = m.orderingKey { out += "  ordering key: \(k)\n" }
            if !m.captures.isEmpty {
                out += "  captures: " + m.captures.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + "\n"
            }
            for s in m.steps {
                out += "  [\(s.index)] \(s.action) → \(s.target)\(s.id != String(s.index) ? " (id \(s.id))" : "")\n"
                for q in s.requests {
                    out += "      \(q.method) \(q.path)\n"
                    for (k, v) in q.headers { out += "        \(k): \(v)\n" }
                    if let b = q.body { out += "        \(JSONWriter.serialize(b))\n" }
                }
                if !s.waits.isEmpty {
                    out += "      ⧗ waited \(s.waits.count) time\(s.waits.count == 1 ? "" : "s") on the upstream, polling again after "
                        + s.waits.map { "\(($0 * 10).rounded() / 10) s" }.joined(separator: ", ") + "\n"
                }
                if let e = s.error { out += "      ✗ \(e)\n" }
            }
        }
        if explain && !r.notMatched.isEmpty {
            out += "\nnot matched:\n"
            for (rule, reason) in r.notMatched { out += "  ○ \(rule): \(reason)\n" }
        }
        return out
    }
}
