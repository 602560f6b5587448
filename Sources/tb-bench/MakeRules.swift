import ArgumentParser
import Foundation
import TaskBridgeCore

/// Writes a rule file for the rule-scaling benchmark: `--matching` rules that match the
/// benchmark's pull_request.opened delivery, a few on the same type whose condition
/// fails, and the rest on other event types and sources (which the index skips).
struct MakeRules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "make-rules", abstract: "Generate N rules for the scaling benchmark.")
    @Option var count = 1000
    @Option var matching = 3
    @Option var out: String

    func run() async throws {
        let otherTypes = ["issues.opened", "issues.closed", "push", "release.published", "check_run.completed", "workflow_run.completed",
                          "deployment_status", "pull_request.closed", "pull_request.synchronize", "pull_request_review.submitted"]
        var rules: [JSONValue] = []
        for k in 0..<matching {
            rules.append(["id": .string("match-\(k)"), "sources": ["github"], "events": ["pull_request.opened"],
                          "when": ["path": "body.repository.full_name", "equals": "Codertocat/Hello-World"],
                          "do": [["action": "task.create", "project": "Engineering", "title": "PR: {{ body.pull_request.title | truncate 80 }}"]]])
        }
        let sameTypeFailing = (count - matching) / 50
        for k in 0..<sameTypeFailing {
            rules.append(["id": .string("same-type-\(k)"), "sources": ["github"], "events": ["pull_request.opened"],
                          "when": ["path": "body.repository.full_name", "equals": .string("other-org/repo-\(k)")],
                          "do": [["action": "task.create", "title": "never"]]])
        }
        var k = 0
        while rules.count < count {
            let sentry = k % 3 == 0
            rules.append(["id": .string("other-\(k)"), "sources": [sentry ? "sentry" : "github"],
                          "events": [.string(sentry ? "metric_alert.critical" : otherTypes[k % otherTypes.count])],
                          "when": ["path": "body.action", "exists": true],
                          "do": [["action": "task.create", "title": .string("other \(k)")]]])
            k += 1
        }
        try JSONWriter.serialize(["rules": .array(rules)]).write(toFile: out, atomically: true, encoding: .utf8)
        print("wrote \(rules.count) rules to \(out) (\(matching) matching, \(sameTypeFailing) same type failing)")
    }
}
