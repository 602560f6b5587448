import Testing
@testable import TaskBridgeCore

@Suite("Conditions")
struct ConditionTests {
    /// Parses `when` as the condition of a rule on `source` (so locations are real:
    /// `rules[0].when…`).
    static func condition(_ when: String, source: String = "github") throws -> Condition {
        let text = #"{"rules": [{"id": "c", "sources": [""# + source + #""], "events": ["*"], "when": "# + when
            + #", "do": [{"action": "task.create", "title": "t"}]}]}"#
        return try #require(try Fixtures.parseRules(text).rules[0].when)
    }

    static func prOpened() throws -> EventContext {
        Fixtures.context(source: "github", type: "pull_request.opened", body: try Fixtures.json("github/pull_request.opened"),
                         headers: ["x-github-event": "pull_request", "x-github-delivery": "d-1"])
    }

    static func alert() throws -> EventContext {
        Fixtures.context(source: "sentry", type: "event_alert.triggered", body: try Fixtures.json("sentry/event_alert.triggered"))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let when: String
        let matched: Bool
        var captures: [String: String] = [:]
        var reason: String? = nil
        var testDescription: String { when }
    }

    /// Every operator over the real `pull_request.opened` payload.
    static let prCases: [Case] = [
        // equals
        .init(when: #"{"path": "body.action", "equals": "opened"}"#, matched: true),
        .init(when: #"{"path": "body.action", "equals": "closed"}"#, matched: false,
              reason: #"rules[0].when: body.action is "opened"; expected equals "closed""#),
        .init(when: #"{"path": "body.number", "equals": 2}"#, matched: true),
        .init(when: #"{"path": "body.number", "equals": "2"}"#, matched: false,
              reason: #"rules[0].when: body.number is 2; expected equals "2""#),
        .init(when: #"{"path": "body.pull_request.draft", "equals": false}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.merged_at", "equals": null}"#, matched: true),
        .init(when: #"{"path": "body.nope", "equals": "x"}"#, matched: false,
              reason: #"rules[0].when: body.nope is (no value); expected equals "x""#),
        .init(when: #"{"path": "body.action", "equals": "OPENED"}"#, matched: false,
              reason: #"rules[0].when: body.action is "opened"; expected equals "OPENED""#),
        .init(when: #"{"path": "body.action", "equals": "OPENED", "ignoreCase": true}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.head", "equals": {"ref": "changes"}}"#, matched: false,
              reason: #"rules[0].when: body.pull_request.head is {"label":"Codertocat:changes","ref":"changes","repo":{"arch…; expected equals {"ref":"changes"}"#),
        // notEquals
        .init(when: #"{"path": "body.action", "notEquals": "closed"}"#, matched: true),
        .init(when: #"{"path": "body.action", "notEquals": "opened"}"#, matched: false,
              reason: #"rules[0].when: body.action is "opened"; expected not to equal "opened""#),
        .init(when: #"{"path": "body.action", "notEquals": "Opened", "ignoreCase": true}"#, matched: false,
              reason: #"rules[0].when: body.action is "opened"; expected not to equal "Opened""#),
        .init(when: #"{"path": "body.nope", "notEquals": "x"}"#, matched: true),
        // in
        .init(when: #"{"path": "body.action", "in": ["opened", "reopened"]}"#, matched: true),
        .init(when: #"{"path": "body.action", "in": ["closed", 2]}"#, matched: false,
              reason: #"rules[0].when: body.action is "opened"; expected one of ["closed",2]"#),
        .init(when: #"{"path": "body.action", "in": ["OPENED"], "ignoreCase": true}"#, matched: true),
        .init(when: #"{"path": "body.number", "in": [1, 2, 3]}"#, matched: true),
        // exists
        .init(when: #"{"path": "body.action", "exists": true}"#, matched: true),
        .init(when: #"{"path": "body.nope", "exists": false}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.merged_at", "exists": true}"#, matched: false,
              reason: "rules[0].when: body.pull_request.merged_at is null; expected a value"),
        .init(when: #"{"path": "body.pull_request.merged_at", "exists": false}"#, matched: true),
        .init(when: #"{"path": "body.action", "exists": false}"#, matched: false,
              reason: #"rules[0].when: body.action is "opened"; expected no value"#),
        // contains / startsWith / endsWith
        .init(when: #"{"path": "body.pull_request.title", "contains": "README"}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.title", "contains": "readme"}"#, matched: false,
              reason: #"rules[0].when: body.pull_request.title is "Update the README with new information."; expected contains "readme""#),
        .init(when: #"{"path": "body.pull_request.title", "contains": "readme", "ignoreCase": true}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.head.ref", "startsWith": "chan"}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.head.ref", "startsWith": "CHAN", "ignoreCase": true}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.head.ref", "startsWith": "gc-"}"#, matched: false,
              reason: #"rules[0].when: body.pull_request.head.ref is "changes"; expected startsWith "gc-""#),
        .init(when: #"{"path": "body.pull_request.title", "endsWith": "information."}"#, matched: true),
        .init(when: #"{"path": "body.number", "startsWith": "2"}"#, matched: false,
              reason: #"rules[0].when: body.number is 2; expected startsWith "2""#),
        // matches
        .init(when: #"{"path": "body.pull_request.title", "matches": "^(?<verb>\\w+) the (?<what>\\w+)"}"#, matched: true,
              captures: ["verb": "Update", "what": "README"]),
        .init(when: #"{"path": "body.pull_request.head.label", "matches": "(?P<owner>[^:]+):(?P<branch>.+)"}"#, matched: true,
              captures: ["owner": "Codertocat", "branch": "changes"]),
        .init(when: #"{"path": "body.number", "matches": "^\\d$"}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.draft", "matches": "^false$"}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.head.ref", "matches": "(?i)\\bgc-(?<task>[a-z0-9_]+)"}"#, matched: false,
              reason: #"rules[0].when: body.pull_request.head.ref is "changes"; expected matches "(?i)\\bgc-(?<task>[a-z0-9_]+)""#),
        .init(when: #"{"path": "body.pull_request.head", "matches": "changes"}"#, matched: false,
              reason: #"rules[0].when: body.pull_request.head is {"label":"Codertocat:changes","ref":"changes","repo":{"arch…; expected matches "changes""#),
        // gt / gte / lt / lte
        .init(when: #"{"path": "body.number", "gt": 1}"#, matched: true),
        .init(when: #"{"path": "body.number", "gt": 2}"#, matched: false, reason: "rules[0].when: body.number is 2; expected gt 2"),
        .init(when: #"{"path": "body.number", "gte": 2}"#, matched: true),
        .init(when: #"{"path": "body.number", "gte": 2.5}"#, matched: false, reason: "rules[0].when: body.number is 2; expected gte 2.5"),
        .init(when: #"{"path": "body.number", "lt": 3}"#, matched: true),
        .init(when: #"{"path": "body.number", "lt": 2}"#, matched: false, reason: "rules[0].when: body.number is 2; expected lt 2"),
        .init(when: #"{"path": "body.number", "lte": 2}"#, matched: true),
        .init(when: #"{"path": "body.number", "lte": 1}"#, matched: false, reason: "rules[0].when: body.number is 2; expected lte 1"),
        .init(when: #"{"path": "body.action", "gt": 0}"#, matched: false, reason: #"rules[0].when: body.action is "opened"; expected gt 0"#),
        // Field against field
        .init(when: #"{"path": "body.pull_request.user.login", "equals": {"path": "body.sender.login"}}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.user.login", "equals": {"path": "body.repository.name"}}"#, matched: false,
              reason: #"rules[0].when: body.pull_request.user.login is "Codertocat"; expected equals "Hello-World""#),
        .init(when: #"{"path": "body.pull_request.additions", "gte": {"path": "body.pull_request.deletions"}}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.additions", "gt": {"path": "body.pull_request.deletions"}}"#, matched: false,
              reason: "rules[0].when: body.pull_request.additions is 1; expected gt 1"),
        .init(when: #"{"path": "body.pull_request.head.label", "endsWith": {"path": "body.pull_request.head.ref"}}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.title", "contains": {"path": "body.missing"}}"#, matched: false,
              reason: #"rules[0].when: body.pull_request.title is "Update the README with new information."; expected contains (no value)"#),
        // Wildcards: any element passes; notEquals only when none equals
        .init(when: #"{"path": "body.pull_request.requested_reviewers[*].login", "equals": "octocat"}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.requested_reviewers[*].login", "equals": "nobody"}"#, matched: false,
              reason: #"rules[0].when: body.pull_request.requested_reviewers[*].login is ["octocat"]; expected equals "nobody""#),
        .init(when: #"{"path": "body.pull_request.requested_reviewers[*].login", "notEquals": "octocat"}"#, matched: false,
              reason: #"rules[0].when: body.pull_request.requested_reviewers[*].login is ["octocat"]; expected not to equal "octocat""#),
        .init(when: #"{"path": "body.pull_request.labels[*].name", "in": ["bug", "security"]}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.labels[*].name", "matches": "^(?<label>b\\w+)$"}"#, matched: true, captures: ["label": "bug"]),
        .init(when: #"{"path": "body.pull_request.labels[*].name", "exists": true}"#, matched: true),
        .init(when: #"{"path": "body.pull_request.requested_teams[*].name", "exists": true}"#, matched: false,
              reason: "rules[0].when: body.pull_request.requested_teams[*].name is []; expected a value"),
        .init(when: #"{"path": "body.pull_request.requested_teams[*]", "exists": false}"#, matched: true),
        // Other roots
        .init(when: #"{"path": "headers.x-github-event", "equals": "pull_request"}"#, matched: true),
        .init(when: #"{"path": "headers.X-GitHub-Event", "equals": "pull_request"}"#, matched: true),
        .init(when: #"{"path": "headers.user-agent", "exists": false}"#, matched: true),
        .init(when: #"{"path": "event.type", "startsWith": "pull_request."}"#, matched: true),
        .init(when: #"{"path": "event.receivedAt", "equals": 1700000000000}"#, matched: true),
        .init(when: #"{"path": "event.dedupeKey", "equals": "delivery-1"}"#, matched: true),
        .init(when: #"{"path": "client.ip", "startsWith": "203.0.113."}"#, matched: true),
    ]

    @Test(arguments: prCases)
    func operatorOnARealPullRequest(_ c: Case) throws {
        let outcome = try Self.condition(c.when).evaluate(Self.prOpened(), explain: true)
        #expect(outcome.matched == c.matched)
        #expect(outcome.captures == c.captures)
        #expect(outcome.reason == c.reason)
    }

    static let alertCases: [Case] = [
        // An array of strings: contains tests membership.
        .init(when: #"{"path": "body.data.event.fingerprint", "contains": "{{ default }}"}"#, matched: true),
        .init(when: #"{"path": "body.data.event.fingerprint", "contains": "custom"}"#, matched: false,
              reason: #"rules[0].when: body.data.event.fingerprint is ["{{ default }}"]; expected contains "custom""#),
        // Nested arrays through a wildcard.
        .init(when: #"{"path": "body.data.event.tags[*][0]", "equals": "level"}"#, matched: true),
        .init(when: #"{"path": "body.data.event.tags[*][1]", "matches": "^Chrome (?<version>\\d+)"}"#, matched: true, captures: ["version": "75"]),
        .init(when: #"{"path": "body.data.event.timestamp", "gt": 1566248777}"#, matched: true),
        .init(when: #"{"path": "body.data.triggered_rule", "endsWith": "RULE!", "ignoreCase": true}"#, matched: true),
        .init(when: #"{"path": "event.source", "equals": "sentry"}"#, matched: true),
    ]

    @Test(arguments: alertCases)
    func operatorOnARealSentryAlert(_ c: Case) throws {
        let outcome = try Self.condition(c.when, source: "sentry").evaluate(Self.alert(), explain: true)
        #expect(outcome.matched == c.matched)
        #expect(outcome.captures == c.captures)
        #expect(outcome.reason == c.reason)
    }

    // MARK: Composition

    static let compositionCases: [Case] = [
        .init(when: #"{"all": [{"path": "body.action", "equals": "opened"}, {"path": "body.pull_request.title", "matches": "(?<first>\\w+)"}, {"path": "body.pull_request.head.label", "matches": ":(?<branch>.+)"}]}"#,
              matched: true, captures: ["first": "Update", "branch": "changes"]),
        .init(when: #"{"all": [{"path": "body.action", "equals": "opened"}, {"path": "body.number", "gt": 5}, {"path": "body.nope", "exists": true}]}"#,
              matched: false, reason: "rules[0].when.all[1]: body.number is 2; expected gt 5"),
        .init(when: #"{"all": [{"path": "body.pull_request.title", "matches": "(?<x>\\w+)"}, {"path": "body.action", "equals": "closed"}]}"#,
              matched: false, reason: #"rules[0].when.all[1]: body.action is "opened"; expected equals "closed""#),
        .init(when: #"{"any": [{"path": "body.pull_request.head.ref", "matches": "gc-(?<task>\\w+)"}, {"path": "body.pull_request.title", "matches": "the (?<task>\\w+)"}]}"#,
              matched: true, captures: ["task": "README"]),
        .init(when: #"{"any": [{"path": "body.action", "equals": "closed"}, {"path": "body.number", "lt": 1}]}"#, matched: false,
              reason: #"rules[0].when.any: none matched (rules[0].when.any[0]: body.action is "opened"; expected equals "closed"; rules[0].when.any[1]: body.number is 2; expected lt 1)"#),
        .init(when: #"{"not": {"path": "body.action", "equals": "opened"}}"#, matched: false,
              reason: "rules[0].when.not: the negated condition matched"),
        .init(when: #"{"not": {"path": "body.action", "equals": "closed"}}"#, matched: true),
        .init(when: #"{"not": {"path": "body.pull_request.title", "matches": "^x?"}}"#, matched: false,
              reason: "rules[0].when.not: the negated condition matched"),
        .init(when: #"{"all": [{"not": {"path": "body.pull_request.draft", "equals": true}}, {"any": [{"path": "body.nope", "exists": true}, {"path": "body.pull_request.head.label", "matches": "^(?<owner>[^:]+)"}]}]}"#,
              matched: true, captures: ["owner": "Codertocat"]),
        .init(when: #"{"all": [{"path": "body.action", "exists": true}, {"any": [{"not": {"path": "body.number", "equals": 2}}, {"path": "body.nope", "exists": true}]}]}"#,
              matched: false,
              reason: "rules[0].when.all[1].any: none matched (rules[0].when.all[1].any[0].not: the negated condition matched; rules[0].when.all[1].any[1]: body.nope is (no value); expected a value)"),
    ]

    @Test(arguments: compositionCases)
    func composition(_ c: Case) throws {
        let outcome = try Self.condition(c.when).evaluate(Self.prOpened(), explain: true)
        #expect(outcome.matched == c.matched)
        #expect(outcome.captures == c.captures)
        #expect(outcome.reason == c.reason)
    }

    @Test func laterCapturesOfTheSameNameWinInAll() throws {
        let c = try Self.condition(#"{"all": [{"path": "body.pull_request.head.ref", "matches": "(?<x>\\w+)"}, {"path": "body.pull_request.title", "matches": "(?<x>\\w+)"}]}"#)
        #expect(c.evaluate(try Self.prOpened()).captures == ["x": "Update"])
    }

    @Test func conditionPathsListEveryPathRead() throws {
        let c = try Self.condition(#"{"all": [{"path": "body.a", "equals": {"path": "body.b"}}, {"not": {"path": "headers.x-github-event", "exists": true}}, {"any": [{"path": "body.c[*].d", "in": [1]}]}]}"#)
        #expect(c.paths.map(\.description) == ["body.a", "body.b", "headers.x-github-event", "body.c[*].d"])
    }

    @Test func nullIsAValueForEqualsButNotForExists() throws {
        let ctx = Fixtures.context(source: "github", type: "x", body: ["v": nil])
        #expect(try Self.condition(#"{"path": "body.v", "equals": null}"#).evaluate(ctx).matched)
        #expect(try !Self.condition(#"{"path": "body.v", "exists": true}"#).evaluate(ctx).matched)
        #expect(try Self.condition(#"{"path": "body.w", "notEquals": null}"#).evaluate(ctx).matched)
    }

    @Test func reasonsAreBuiltOnlyWhenAskedFor() throws {
        let outcome = try Self.condition(#"{"path": "body.action", "equals": "closed"}"#).evaluate(Self.prOpened())
        #expect(outcome.matched == false)
        #expect(outcome.reason == nil)
    }

    @Test func longValuesAreShortenedInReasons() throws {
        let long = String(repeating: "a", count: 100)
        let ctx = Fixtures.context(source: "github", type: "x", body: ["v": .string(long)])
        let reason = try Self.condition(#"{"path": "body.v", "equals": "b"}"#).evaluate(ctx, explain: true).reason
        #expect(reason == "rules[0].when: body.v is \"" + String(repeating: "a", count: 58) + #"…; expected equals "b""#)
    }

    // MARK: Patterns and globs

    @Test(arguments: [
        ("(?<task>GC-\\d+)", ["task"]),
        ("(?P<a>x)(?<b>y)", ["a", "b"]),
        ("(?=x)(?!y)(?:z)", [String]()),
        ("\\(?<notagroup>x\\)", []),
        ("(a)(?<n1>b)(?<n_2>c)", ["n1", "n_2"]),
    ])
    func namedGroups(pattern: String, names: [String]) throws {
        #expect(PatternMatcher.namedGroups(in: pattern) == names)
        #expect(try PatternMatcher(pattern).groupNames == names)
    }

    @Test func patternMatcherCapturesTheFirstMatch() throws {
        let m = try PatternMatcher("gc-(?<task>\\d+)")
        #expect(m.match("gc-12 and gc-34") == ["task": "12"])
        #expect(m.match("nothing") == nil)
        #expect(try PatternMatcher("x").match("xyz") == [:])
        // An optional group that did not participate yields no capture.
        #expect(try PatternMatcher("a(?<opt>b)?c").match("ac") == [:])
    }

    @Test(arguments: [
        ("pull_request.*", "pull_request.opened", true),
        ("pull_request.*", "pull_request.", true),
        ("pull_request.*", "pull_request", false),
        ("pull_request.*", "pull_requests.opened", false),
        ("*", "anything.at.all", true),
        ("*.created", "issue.created", true),
        ("*.created", "issue.created.x", false),
        ("issue.?esolved", "issue.resolved", true),
        ("issue.?esolved", "issue.unresolved", false),
        ("issue.*resolved", "issue.unresolved", true),
        ("a*b*c", "aXXbYYc", true),
        ("a*b*c", "aXXbYY", false),
        ("push", "push", true),
        ("push", "pushed", false),
    ])
    func globs(pattern: String, text: String, matches: Bool) {
        #expect(Glob(pattern).matches(text) == matches)
    }

    @Test func globLiteralness() {
        #expect(Glob("issue.created").isLiteral)
        #expect(!Glob("issue.*").isLiteral)
        #expect(!Glob("issue.?").isLiteral)
    }
}
