import Testing
@testable import TaskBridgeCore

@Suite("RuleSet matching")
struct RuleMatchingTests {
    struct Expected: Sendable, Hashable {
        let rule: String
        var captures: [String: String] = [:]
        var orderingKey: String?
    }

    /// An input event: a real fixture (by name) or a derived variant.
    struct Case: Sendable, CustomTestStringConvertible {
        let fixture: String?
        let variant: DerivedVariant?
        let source: String
        let type: String
        let expected: [Expected]

        init(fixture: String, type: String? = nil, _ expected: [Expected] = []) {
            self.fixture = fixture
            self.variant = nil
            self.source = String(fixture.prefix { $0 != "/" })
            self.type = type ?? String(fixture.drop { $0 != "/" }.dropFirst())
            self.expected = expected
        }

        init(variant: DerivedVariant, type: String, _ expected: [Expected]) {
            self.fixture = nil
            self.variant = variant
            self.source = String(variant.base.prefix { $0 != "/" })
            self.type = type
            self.expected = expected
        }

        var testDescription: String { variant?.name ?? fixture! }

        func bytes() throws -> [UInt8] {
            if let fixture { return Fixtures.bytes(fixture) }
            return try variant!.bytes()
        }
    }

    static let pr = "github-pr:Codertocat/Hello-World#2"
    static let issue = "sentry-issue:1170820242"

    static let cases: [Case] = [
        // Real payloads: none of GitHub's examples references a task, so no PR rule fires.
        .init(fixture: "github/installation.created"),
        .init(fixture: "github/issues.opened"),
        .init(fixture: "github/ping"),
        .init(fixture: "github/push"),
        .init(fixture: "github/pull_request.opened"),
        .init(fixture: "github/pull_request.closed"),
        .init(fixture: "github/pull_request.converted_to_draft"),
        .init(fixture: "github/pull_request.ready_for_review"),
        .init(fixture: "github/pull_request.reopened"),
        .init(fixture: "github/pull_request.review_requested"),
        .init(fixture: "github/pull_request.synchronize"),
        .init(fixture: "sentry/comment.created"),
        .init(fixture: "sentry/error.created"),
        .init(fixture: "sentry/installation.created"),
        .init(fixture: "sentry/metric_alert.resolved"),
        .init(fixture: "sentry/issue.created", [.init(rule: "sentry-issue-task", orderingKey: issue)]),
        .init(fixture: "sentry/event_alert.triggered", [.init(rule: "sentry-alert-task", orderingKey: "sentry-issue:1117540176")]),
        // Derived variants (see SOURCES.md).
        .init(variant: .prOpenedWithTaskBranch, type: "pull_request.opened",
              [.init(rule: "pr-ready-in-review", captures: ["task": "task_7"], orderingKey: pr)]),
        .init(variant: .prOpenedAsDraft, type: "pull_request.opened",
              [.init(rule: "pr-draft-doing", captures: ["task": "task_7"], orderingKey: pr)]),
        .init(variant: .prConvertedToDraftWithTaskBranch, type: "pull_request.converted_to_draft",
              [.init(rule: "pr-draft-doing", captures: ["task": "task_7"], orderingKey: pr)]),
        .init(variant: .prReadyWithFixesBody, type: "pull_request.ready_for_review",
              [.init(rule: "pr-ready-in-review", captures: ["task": "task_9"], orderingKey: pr)]),
        .init(variant: .prReviewRequestedWithTaskTitle, type: "pull_request.review_requested",
              [.init(rule: "pr-ready-in-review", captures: ["task": "42"], orderingKey: pr)]),
        .init(variant: .prMerged, type: "pull_request.closed",
              [.init(rule: "pr-merged-done", captures: ["task": "task_7"], orderingKey: pr)]),
        .init(variant: .prClosedUnmerged, type: "pull_request.closed",
              [.init(rule: "pr-closed-back-to-todo", captures: ["task": "task_7"], orderingKey: pr)]),
        .init(variant: .prOpenedWithTaskBranch, type: "pull_request.synchronize", []),
        .init(variant: .sentryIssueResolved, type: "issue.resolved", [.init(rule: "sentry-issue-resolved", orderingKey: issue)]),
        .init(variant: .sentryIssueUnresolved, type: "issue.unresolved", [.init(rule: "sentry-issue-regressed", orderingKey: issue)]),
        .init(variant: .sentryIssueFatal, type: "issue.created",
              [.init(rule: "sentry-issue-task", orderingKey: issue), .init(rule: "sentry-fatal-to-agent", orderingKey: issue)]),
    ]

    static func matches(_ set: RuleSet, _ c: Case, body: JSONValue) -> [Expected] {
        let ctx = Fixtures.context(source: c.source, type: c.type, body: body)
        return set.match(source: c.source, type: c.type, context: ctx).map {
            Expected(rule: $0.rule.id, captures: $0.captures, orderingKey: $0.orderingKey)
        }
    }

    @Test(arguments: cases)
    func exampleRulesOverRealAndDerivedPayloads(_ c: Case) throws {
        let set = try Fixtures.exampleRules()
        let bytes = try c.bytes()
        // A full parse and the ingest-time partial parse agree.
        #expect(Self.matches(set, c, body: try JSONParser.parse(bytes)) == c.expected)
        #expect(Self.matches(set, c, body: try JSONParser.parse(bytes, keeping: set.payloadTrie(for: c.source))) == c.expected)
    }

    @Test(arguments: DerivedVariant.all)
    func derivedVariantsChangeOnlyTheNamedFields(_ variant: DerivedVariant) throws {
        let base = try Fixtures.json(variant.base)
        let derived = try variant.document()
        #expect(derived != base)
        var restored = derived
        for change in variant.changes {
            let original = try #require(try FieldPath(parsing: "body." + change.path).resolveTail(in: base))
            restored = try variant.setting(original, at: change.path, in: restored)
        }
        #expect(restored == base)
    }

    // MARK: explain

    @Test func explainSaysWhyEachRuleDidOrDidNotMatch() throws {
        let set = try Fixtures.exampleRules()
        let ctx = Fixtures.context(source: "github", type: "pull_request.closed", body: try Fixtures.json("github/pull_request.closed"))
        let reasons = set.explain(source: "github", type: "pull_request.closed", context: ctx).map { ($0.rule.id, $0.reason) }
        let gc = #"expected matches "(?i)\\bgc-(?<task>[a-z0-9_]+)""#
        let expected: [(String, String?)] = [
            ("pr-draft-doing", "event type pull_request.closed is not in pull_request.opened, pull_request.converted_to_draft"),
            ("pr-ready-in-review", "event type pull_request.closed is not in pull_request.opened, pull_request.ready_for_review, pull_request.review_requested"),
            ("pr-merged-done", "rules[2].when.all[0]: body.pull_request.merged is false; expected equals true"),
            ("pr-closed-back-to-todo", "rules[3].when.all[1].any: none matched ("
                + #"rules[3].when.all[1].any[0]: body.pull_request.head.ref is "changes"; "# + gc + "; "
                + #"rules[3].when.all[1].any[1]: body.pull_request.title is "Update the README with new information."; "# + gc + "; "
                + #"rules[3].when.all[1].any[2]: body.pull_request.body is "This is a pretty simple change that we need to pull into m…; "#
                + #"expected matches "(?i)\\b(?:fixes|closes|resolves|refs?)\\s+gc-(?<task>[a-z0…)"#),
            ("sentry-issue-task", "listens to sentry, not github"),
            ("sentry-alert-task", "listens to sentry, not github"),
            ("sentry-issue-resolved", "listens to sentry, not github"),
            ("sentry-issue-regressed", "listens to sentry, not github"),
            ("sentry-fatal-to-agent", "listens to sentry, not github"),
            ("widget-feedback-triage", "listens to widget, not github"),
        ]
        #expect(reasons.map(\.0) == expected.map(\.0))
        for (got, want) in zip(reasons, expected) {
            #expect(got.1 == want.1, "\(want.0)")
        }
    }

    @Test func explainReportsMatchesAsNil() throws {
        let set = try Fixtures.exampleRules()
        let ctx = Fixtures.context(source: "github", type: "pull_request.closed", body: try DerivedVariant.prMerged.document())
        let reasons = Dictionary(uniqueKeysWithValues: set.explain(source: "github", type: "pull_request.closed", context: ctx).map { ($0.rule.id, $0.reason) })
        #expect(reasons["pr-merged-done"] == .some(nil))
        #expect(reasons["pr-closed-back-to-todo"] == .some("rules[3].when.all[0]: body.pull_request.merged is true; expected equals false"))
    }

    @Test func explainNamesDisabledRules() throws {
        let set = try Fixtures.parseRules(#"{"rules": [{"id": "off", "enabled": false, "sources": ["github"], "events": ["push"], "do": [{"action": "task.create", "title": "t"}]}]}"#)
        let ctx = Fixtures.context(source: "github", type: "push", body: try Fixtures.json("github/push"))
        #expect(set.explain(source: "github", type: "push", context: ctx).map(\.reason) == ["disabled"])
        #expect(set.candidates(source: "github", type: "push") == [])
        #expect(set.match(source: "github", type: "push", context: ctx).isEmpty)
    }

    // MARK: Index

    @Test func candidatesComeOnlyFromTheEventsSourceAndType() throws {
        let set = try Fixtures.exampleRules()
        #expect(set.candidates(source: "github", type: "pull_request.opened") == [0, 1])
        #expect(set.candidates(source: "github", type: "pull_request.closed") == [2, 3])
        #expect(set.candidates(source: "github", type: "pull_request.converted_to_draft") == [0])
        #expect(set.candidates(source: "github", type: "pull_request.synchronize") == [])
        #expect(set.candidates(source: "github", type: "issue.created") == [])
        #expect(set.candidates(source: "sentry", type: "issue.created") == [4, 8])
        #expect(set.candidates(source: "sentry", type: "pull_request.opened") == [])
        #expect(set.candidates(source: "widget", type: "widget.submitted") == [9])
        #expect(set.candidates(source: "nowhere", type: "widget.submitted") == [])
    }

    @Test func globRulesAreCandidatesInDeclarationOrderAndOnlyOnce() throws {
        let set = try Fixtures.parseRules(#"""
        {"rules": [
          {"id": "any-pr", "sources": ["github"], "events": ["pull_request.*"], "do": [{"action": "task.create", "title": "a"}]},
          {"id": "opened", "sources": ["github", "sentry"], "events": ["pull_request.opened", "pull_request.opened", "issue.created"], "do": [{"action": "task.create", "title": "b"}]},
          {"id": "both", "sources": ["github"], "events": ["pull_request.opened", "pull_request.*", "*.opened"], "do": [{"action": "task.create", "title": "c"}]},
          {"id": "everything", "sources": ["sentry"], "events": ["*"], "do": [{"action": "task.create", "title": "d"}]},
          {"id": "off", "enabled": false, "sources": ["github"], "events": ["*"], "do": [{"action": "task.create", "title": "e"}]}
        ]}
        """#)
        #expect(set.candidates(source: "github", type: "pull_request.opened") == [0, 1, 2])
        #expect(set.candidates(source: "github", type: "pull_request.closed") == [0, 2])
        #expect(set.candidates(source: "github", type: "issues.opened") == [2])
        #expect(set.candidates(source: "github", type: "push") == [])
        #expect(set.candidates(source: "sentry", type: "issue.created") == [1, 3])
        #expect(set.candidates(source: "sentry", type: "pull_request.opened") == [1, 3])
        #expect(set.candidates(source: "sentry", type: "anything") == [3])
    }

    @Test func aThousandRulesForOtherTypesAreNeverCandidates() throws {
        var rules: [String] = []
        for i in 0..<1000 {
            let source = ["github", "sentry", "widget"][i % 3]
            rules.append(#"{"id": "other-\#(i)", "sources": ["\#(source)"], "events": ["type_\#(i).created", "pull_request.opened_\#(i)"], "when": {"path": "body.x", "equals": \#(i)}, "do": [{"action": "task.create", "title": "t"}]}"#)
        }
        rules.append(#"{"id": "the-one", "sources": ["github"], "events": ["pull_request.opened"], "do": [{"action": "task.create", "title": "t"}]}"#)
        rules.append(#"{"id": "other-source", "sources": ["sentry"], "events": ["pull_request.opened"], "do": [{"action": "task.create", "title": "t"}]}"#)
        let set = try Fixtures.parseRules(#"{"rules": ["# + rules.joined(separator: ",") + "]}")
        #expect(set.rules.count == 1002)
        #expect(set.candidates(source: "github", type: "pull_request.opened") == [1000])
        #expect(set.candidates(source: "github", type: "type_3.created") == [3])
        #expect(set.candidates(source: "sentry", type: "type_3.created") == [])
        let ctx = Fixtures.context(source: "github", type: "pull_request.opened", body: try Fixtures.json("github/pull_request.opened"))
        #expect(set.match(source: "github", type: "pull_request.opened", context: ctx).map(\.rule.id) == ["the-one"])
    }

    // MARK: Parse filter

    @Test func payloadTriesHoldTheRulePathsAndAction() throws {
        let set = try Fixtures.exampleRules()
        let github = set.payloadTrie(for: "github")
        #expect(github.children.keys.sorted() == ["action", "number", "pull_request", "repository"])
        #expect(github.children["action"]?.keepAll == true)
        #expect(github.children["number"]?.keepAll == true)
        let pr = try #require(github.children["pull_request"])
        #expect(!pr.keepAll)
        #expect(pr.children.keys.sorted() == ["body", "draft", "head", "merged", "title"])
        #expect(pr.children["head"]?.children.keys.sorted() == ["ref"])
        #expect(pr.children["head"]?.children["ref"]?.keepAll == true)
        #expect(github.children["repository"]?.children.keys.sorted() == ["full_name"])

        let sentry = set.payloadTrie(for: "sentry")
        #expect(sentry.children.keys.sorted() == ["action", "data"])
        #expect(sentry.children["data"]?.children.keys.sorted() == ["event", "issue"])
        #expect(sentry.children["data"]?.children["issue"]?.children.keys.sorted() == ["id", "level"])
        #expect(sentry.children["data"]?.children["event"]?.children.keys.sorted() == ["issue_id"])

        #expect(set.payloadTrie(for: "widget").children.keys.sorted() == ["$honeypot"])
        #expect(set.payloadTrie(for: "nowhere").isEmpty)
    }

    @Test func ingestParseOfARealPayloadKeepsOnlyWhatRulesRead() throws {
        let set = try Fixtures.exampleRules()
        let v = try JSONParser.parse(Fixtures.bytes("github/pull_request.opened"), keeping: set.payloadTrie(for: "github"))
        #expect(v == .object([
            "action": "opened", "number": 2,
            "pull_request": .object([
                "body": "This is a pretty simple change that we need to pull into master.",
                "draft": false, "head": .object(["ref": "changes"]), "merged": false,
                "title": "Update the README with new information.",
            ]),
            "repository": .object(["full_name": "Codertocat/Hello-World"]),
        ]))
    }

    // MARK: Ordering keys

    @Test func orderingKeyThatCannotRenderIsNil() throws {
        let set = try Fixtures.parseRules(#"""
        {"rules": [
          {"id": "missing", "sources": ["github"], "events": ["push"], "orderingKey": "k:{{ body.nope }}", "do": [{"action": "task.create", "title": "t"}]},
          {"id": "empty", "sources": ["github"], "events": ["push"], "orderingKey": "{{ body.nope | default \"\" }}", "do": [{"action": "task.create", "title": "t"}]},
          {"id": "rendered", "sources": ["github"], "events": ["push"], "orderingKey": "push:{{ body.repository.full_name }}:{{ body.ref }}", "do": [{"action": "task.create", "title": "t"}]},
          {"id": "capture", "sources": ["github"], "events": ["push"], "when": {"path": "body.ref", "matches": "refs/tags/(?<tag>.+)"}, "orderingKey": "tag:{{ captures.tag }}", "do": [{"action": "task.create", "title": "t"}]}
        ]}
        """#)
        let ctx = Fixtures.context(source: "github", type: "push", body: try Fixtures.json("github/push"))
        let keys = set.match(source: "github", type: "push", context: ctx).map { [$0.rule.id, $0.orderingKey ?? "nil"] }
        #expect(keys == [["missing", "nil"], ["empty", "nil"], ["rendered", "push:Codertocat/Hello-World:refs/tags/simple-tag"], ["capture", "tag:simple-tag"]])
    }
}
