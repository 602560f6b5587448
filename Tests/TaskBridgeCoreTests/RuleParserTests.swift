import Testing
@testable import TaskBridgeCore
import TaskBridgeTargets

@Suite("RuleParser")
struct RuleParserTests {
    /// One rule file holding a single rule with the given members.
    static func rule(_ members: String) -> String {
        #"{"rules": [{"# + members + "}]}"
    }

    static let head = #""id": "r", "sources": ["github"], "events": ["pull_request.opened"], "#
    static let completeStep = #""do": [{"action": "task.complete", "task": {"id": "1"}}]"#

    /// A rule on GitHub with the given `when` (and a valid step).
    static func when(_ condition: String) -> String {
        rule(head + #""when": "# + condition + ", " + completeStep)
    }

    /// A rule on GitHub with the given steps.
    static func steps(_ list: String) -> String {
        rule(head + #""do": "# + list)
    }

    // MARK: The example rule sets

    @Test func exampleRuleSetsParseAgainstTheShippedConfig() throws {
        let set = try Fixtures.exampleRules()
        #expect(set.rules.map(\.id) == [
            "pr-draft-doing", "pr-ready-in-review", "pr-merged-done", "pr-closed-back-to-todo",
            "sentry-issue-task", "sentry-alert-task", "sentry-issue-resolved", "sentry-issue-regressed", "sentry-fatal-to-agent",
            "widget-feedback-triage",
        ])
        #expect(set.rules.allSatisfy { $0.target == "groupchat" && $0.enabled })
        #expect(set.rules.map(\.file) == Array(repeating: "examples/github-pr-flow/rules.json", count: 4)
            + Array(repeating: "examples/sentry-to-tasks/rules.json", count: 5) + ["examples/website-feedback/rules.json"])
        #expect(set.rules.map(\.location) == ["rules[0]", "rules[1]", "rules[2]", "rules[3]",
                                               "rules[0]", "rules[1]", "rules[2]", "rules[3]", "rules[4]", "rules[0]"])
        #expect(set.rules.map { $0.sources } == Array(repeating: ["github"], count: 4) + Array(repeating: ["sentry"], count: 5) + [["widget"]])
        #expect(set.rules[1].events.map(\.pattern) == ["pull_request.opened", "pull_request.ready_for_review", "pull_request.review_requested"])
        #expect(set.rules[0].description == "A draft pull request (opened as draft, or converted back) moves its task to doing.")
        #expect(set.rules[6].description == nil)
    }

    @Test func exampleStepsAreParsed() throws {
        let set = try Fixtures.exampleRules()
        let draft = try #require(set.rule(id: "pr-draft-doing")).steps
        #expect(draft.count == 1)
        #expect(draft[0].id == "0")
        #expect(draft[0].action == .taskMove)
        #expect(draft[0].target == "groupchat")
        #expect(draft[0].task == .id(try Template(parsing: "{{ captures.task }}")))
        #expect(draft[0].values == ["stage": .template(try Template(parsing: "doing"))])
        #expect(draft[0].link == StepSpec.LinkSpec(key: try Template(parsing: "github-pr:{{ body.repository.full_name }}#{{ body.number }}"), ifExists: .skip))
        #expect(draft[0].location == "rules[0].do[0]")

        let create = try #require(set.rule(id: "sentry-issue-task")).steps
        #expect(create.map(\.id) == ["task"])
        #expect(create[0].action == .taskCreate)
        #expect(create[0].task == nil)
        #expect(create[0].values.keys.sorted() == ["description", "project", "stage", "title"])
        #expect(create[0].link?.ifExists == .skip)
        #expect(try #require(set.rule(id: "sentry-alert-task")).steps[0].link?.ifExists == .reopen)

        let delegate = try #require(set.rule(id: "sentry-fatal-to-agent")).steps
        #expect(delegate[0].action == .agentDelegate)
        #expect(delegate[0].task == .link(try Template(parsing: "sentry-issue:{{ body.data.issue.id }}")))
        #expect(delegate[0].values["agent"] == .template(try Template(parsing: "Triage Bot")))
    }

    @Test func effectiveOrderingKeys() throws {
        let set = try Fixtures.exampleRules()
        func key(_ id: String) throws -> String? { try #require(set.rule(id: id)).effectiveOrderingKey?.description }
        #expect(try key("pr-draft-doing") == "github-pr:{{ body.repository.full_name }}#{{ body.number }}")
        #expect(try key("pr-merged-done") == "github-pr:{{ body.repository.full_name }}#{{ body.number }}")
        // No explicit key: the link the step records …
        #expect(try key("sentry-issue-task") == "sentry-issue:{{ body.data.issue.id }}")
        #expect(try key("sentry-alert-task") == "sentry-issue:{{ body.data.event.issue_id }}")
        // … or the link it finds its task by, so a resolve waits behind the create.
        #expect(try key("sentry-issue-resolved") == "sentry-issue:{{ body.data.issue.id }}")
        #expect(try key("sentry-issue-regressed") == "sentry-issue:{{ body.data.issue.id }}")
        #expect(try key("sentry-fatal-to-agent") == "sentry-issue:{{ body.data.issue.id }}")
        #expect(try key("widget-feedback-triage") == nil)
    }

    @Test func aLinkBuiltFromStepOutputsIsNoOrderingKey() throws {
        let set = try Fixtures.parseRules(Self.steps(#"""
        [{"id": "create", "action": "task.create", "title": "t"},
         {"action": "task.complete", "task": {"step": "create"}, "link": "pr:{{ steps.create.task.id }}"}]
        """#))
        #expect(set.rules[0].effectiveOrderingKey == nil)
    }

    @Test func versionHashAndCanonicalJSON() throws {
        let set = try Fixtures.exampleRules()
        let rule = try #require(set.rule(id: "sentry-issue-resolved"))
        #expect(rule.canonicalJSON == #"{"do":[{"action":"task.complete","task":{"link":"sentry-issue:{{ body.data.issue.id }}"}}],"events":["issue.resolved"],"id":"sentry-issue-resolved","sources":["sentry"]}"#)
        #expect(rule.versionHash.count == 24)
        #expect(rule.versionHash.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(Set(set.rules.map(\.versionHash)).count == set.rules.count)
        #expect(set.rule(versionHash: rule.versionHash)?.id == "sentry-issue-resolved")
        #expect(set.rule(versionHash: "000000000000000000000000") == nil)

        // A stored rule version re-reads to the same rule.
        let stored = try RuleParser(config: Fixtures.shippedConfig()).parseStoredRule(rule.canonicalJSON, file: "stored")
        #expect(stored.id == rule.id)
        #expect(stored.versionHash == rule.versionHash)
        #expect(stored.steps.count == 1)
    }

    @Test func sameTextInAnotherFileHasTheSameVersion() throws {
        let text = Self.when(#"{"path": "body.action", "equals": "opened"}"#)
        let a = try Fixtures.parseRules(text, file: "a.json").rules[0]
        let b = try Fixtures.parseRules(text.replacingOccurrences(of: "  ", with: " "), file: "b.json").rules[0]
        #expect(a.versionHash == b.versionHash)
        let c = try Fixtures.parseRules(Self.when(#"{"path": "body.action", "equals": "closed"}"#)).rules[0]
        #expect(a.versionHash != c.versionHash)
    }

    @Test func acceptedForms() throws {
        let set = try Fixtures.parseRules(#"""
        {"rules": [
          {"id": "a.b:c_d-1", "sources": "github", "events": "pull_request.*", "enabled": false,
           "when": {"all": [{"path": "headers.x-github-event", "equals": "pull_request"},
                            {"not": {"path": "event.dedupeKey", "exists": false}},
                            {"any": [{"path": "client.ip", "startsWith": "10."}, {"path": "body.number", "gt": {"path": "body.pull_request.additions"}}]}]},
           "target": "groupchat",
           "do": [{"id": "t", "action": "task.create", "title": "{{ event.type }} {{ body[\"odd key\"] | default \"-\" }}", "estimate": 3, "dueDate": "{{ body.number }}"},
                  {"action": "task.update", "description": null},
                  {"action": "task.assign", "task": {"step": "t"}, "owner": "someone"}]}
        ]}
        """#)
        let r = set.rules[0]
        #expect(r.id == "a.b:c_d-1")
        #expect(r.sources == ["github"])
        #expect(r.events.map(\.pattern) == ["pull_request.*"])
        #expect(!r.enabled)
        #expect(r.steps.map(\.id) == ["t", "1", "2"])
        #expect(r.steps[0].values["estimate"] == .number(3))
        #expect(r.steps[1].values["description"] == .null)
        #expect(r.steps[1].task == nil)
        #expect(r.steps[2].task == .step("t"))
    }

    // MARK: Located errors

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let text: String
        let expected: [String]
        var testDescription: String { name }
    }

    static let f = "rules/test.json: "

    static let cases: [Case] = [
        .init(name: "misspelled operator", text: when(#"{"path": "body.action", "eqauls": "closed"}"#),
              expected: [f + #"rules[0].when.eqauls: unknown operator "eqauls" (did you mean "equals"?)"#]),
        .init(name: "nested misspelled operator", text: when(#"{"all": [{"path": "body.action", "equals": "x"}, {"path": "body.number", "gtt": 1}]}"#),
              expected: [f + #"rules[0].when.all[1].gtt: unknown operator "gtt" (did you mean "gt"?)"#]),
        .init(name: "no operator", text: when(#"{"path": "body.action"}"#),
              expected: [f + "rules[0].when: missing an operator; one of equals, notEquals, in, exists, contains, startsWith, endsWith, matches, gt, gte, lt, lte"]),
        .init(name: "two operators", text: when(#"{"path": "body.action", "equals": "a", "contains": "b"}"#),
              expected: [f + #"rules[0].when: one operator per test, found equals, contains; combine tests with "all""#]),
        .init(name: "test without a path", text: when(#"{"equals": "a"}"#),
              expected: [f + #"rules[0].when: missing required key "path""#]),
        .init(name: "condition of the wrong type", text: when("[]"),
              expected: [f + #"rules[0].when: expected a condition object ({"all": […]}, {"any": […]}, {"not": {…}} or {"path": …, "<operator>": …}), found array"#]),
        .init(name: "empty all", text: when(#"{"all": []}"#),
              expected: [f + #"rules[0].when.all: "all" needs at least one condition"#]),
        .init(name: "all and any in one object", text: when(#"{"all": [{"path": "body.action", "exists": true}], "any": []}"#),
              expected: [f + #"rules[0].when.any: unknown key "any""#,
                         f + #"rules[0].when: use one of "all", "any" or "not" per object; nest them instead"#]),
        .init(name: "gt with a string", text: when(#"{"path": "body.number", "gt": "5"}"#),
              expected: [f + #"rules[0].when.gt: gt needs a number or {"path": "…"}, found string"#]),
        .init(name: "startsWith with a number", text: when(#"{"path": "body.action", "startsWith": 5}"#),
              expected: [f + #"rules[0].when.startsWith: startsWith needs a string or {"path": "…"}, found number"#]),
        .init(name: "contains with an object", text: when(#"{"path": "body.action", "contains": {"x": 1}}"#),
              expected: [f + #"rules[0].when.contains: contains needs a string, number or boolean or {"path": "…"}, found object"#]),
        .init(name: "exists with a string", text: when(#"{"path": "body.action", "exists": "yes"}"#),
              expected: [f + "rules[0].when.exists: expected true or false, found string"]),
        .init(name: "empty in", text: when(#"{"path": "body.action", "in": []}"#),
              expected: [f + #"rules[0].when.in: "in" needs at least one value"#]),
        .init(name: "bad path root", text: when(#"{"path": "bdy.action", "equals": "x"}"#),
              expected: [f + #"rules[0].when.path: "bdy.action": unknown root "bdy" (did you mean "body"?); paths start with event, body, headers, client, captures"#]),
        .init(name: "bad path syntax", text: when(#"{"path": "body..action", "equals": "x"}"#),
              expected: [f + #"rules[0].when.path: invalid path "body..action": unexpected "." at position 6"#]),
        .init(name: "bad operand path", text: when(#"{"path": "body.number", "gt": {"path": "bdoy.x"}}"#),
              expected: [f + #"rules[0].when.gt.path: "bdoy.x": unknown root "bdoy" (did you mean "body"?); paths start with event, body, headers, client, captures"#]),
        .init(name: "step output in a condition", text: when(#"{"path": "steps.a.task.id", "exists": true}"#),
              expected: [f + #"rules[0].when.path: "steps.a.task.id": step outputs exist only when steps run; use them in step fields, not in conditions or ordering keys"#]),
        .init(name: "header that is not kept", text: when(#"{"path": "headers.X-Hub-Signature-256", "exists": true}"#),
              expected: [f + #"rules[0].when.path: "headers.X-Hub-Signature-256": header "X-Hub-Signature-256" is not kept for this rule's sources; available: content-type, user-agent, x-github-delivery, x-github-event, x-github-hook-id, x-github-hook-installation-target-id, x-github-hook-installation-target-type"#]),
        .init(name: "nested header path", text: when(#"{"path": "headers.a.b", "exists": true}"#),
              expected: [f + #"rules[0].when.path: "headers.a.b": write a header as headers.<name>"#]),
        .init(name: "unknown event field", text: when(#"{"path": "event.kind", "exists": true}"#),
              expected: [f + #"rules[0].when.path: "event.kind": event fields are event.id, event.type, event.source, event.receivedAt, event.dedupeKey"#]),
        .init(name: "unknown client field", text: when(#"{"path": "client.port", "exists": true}"#),
              expected: [f + #"rules[0].when.path: "client.port": the only client field is client.ip"#]),
        .init(name: "bad regex", text: when(#"{"path": "body.action", "matches": "(?<task>[a-z"}"#),
              expected: [f + #"rules[0].when.matches: invalid regular expression "(?<task>[a-z": "#]),
        .init(name: "capture without a named group", text: steps(#"[{"action": "task.complete", "task": {"id": "{{ captures.task }}"}}]"#),
              expected: [f + #"rules[0].do[0].task.id: "captures.task": no matches condition in this rule defines a named group "task""#]),
        .init(name: "capture of another group", text: rule(head + #""when": {"path": "body.pull_request.head.ref", "matches": "gc-(?<task>\\d+)"}, "do": [{"action": "task.complete", "task": {"id": "{{ captures.tsk }}"}}]"#),
              expected: [f + #"rules[0].do[0].task.id: "captures.tsk": no matches condition in this rule defines a named group "tsk""#]),
        .init(name: "unknown template filter", text: steps(#"[{"action": "task.create", "title": "{{ body.action | lowr }}"}]"#),
              expected: [f + #"rules[0].do[0].title: unknown filter "lowr" (did you mean "lower"?); filters: lower, upper, trim, truncate, default, json, date, unixms, join, first"#]),
        .init(name: "filter without its argument", text: steps(#"[{"action": "task.create", "title": "{{ body.action | truncate }}"}]"#),
              expected: [f + #"rules[0].do[0].title: filter "truncate" needs a positive length, e.g. truncate 80"#]),
        .init(name: "unquoted default", text: steps(#"[{"action": "task.create", "title": "{{ body.x | default none }}"}]"#),
              expected: [f + #"rules[0].do[0].title: filter "default" needs a quoted string argument, e.g. default "…""#]),
        .init(name: "argument to a filter that takes none", text: steps(#"[{"action": "task.create", "title": "{{ body.x | upper 2 }}"}]"#),
              expected: [f + #"rules[0].do[0].title: filter "upper" takes no argument"#]),
        .init(name: "unclosed placeholder", text: steps(#"[{"action": "task.create", "title": "PR {{ body.number"}]"#),
              expected: [f + #"rules[0].do[0].title: "{{" is never closed with "}}""#]),
        .init(name: "empty placeholder", text: steps(#"[{"action": "task.create", "title": "PR {{ }}"}]"#),
              expected: [f + #"rules[0].do[0].title: empty placeholder "{{ }}""#]),
        .init(name: "template with an unknown root", text: steps(#"[{"action": "task.create", "title": "{{ bdy.title }}"}]"#),
              expected: [f + #"rules[0].do[0].title: unknown root "bdy" in "bdy.title"; paths start with event, body, headers, client, captures, steps"#]),
        .init(name: "step output of a later step", text: steps(#"""
              [{"id": "first", "action": "task.create", "title": "{{ steps.second.task.id }}"},
               {"id": "second", "action": "task.create", "title": "t"}]
              """#),
              expected: [f + #"rules[0].do[0].title: "steps.second.task.id": no earlier step has id "second""#]),
        .init(name: "step output of an unknown step", text: steps(#"""
              [{"id": "first", "action": "task.create", "title": "t"},
               {"action": "task.complete", "task": {"id": "{{ steps.nope.task.id }}"}}]
              """#),
              expected: [f + #"rules[0].do[1].task.id: "steps.nope.task.id": no earlier step has id "nope"; earlier steps: first"#]),
        .init(name: "task from a later step", text: steps(#"[{"action": "task.complete", "task": {"step": "later"}}, {"id": "later", "action": "task.create", "title": "t"}]"#),
              expected: [f + #"rules[0].do[0].task.step: no earlier step has id "later""#]),
        .init(name: "step output in an ordering key", text: rule(head + #""orderingKey": "k:{{ steps.a.task.id }}", "# + completeStep),
              expected: [f + #"rules[0].orderingKey: "steps.a.task.id": step outputs exist only when steps run; use them in step fields, not in conditions or ordering keys"#]),
        .init(name: "update without fields", text: steps(#"[{"action": "task.update", "task": {"id": "1"}}]"#),
              expected: [f + "rules[0].do[0]: task.update needs at least one of title, description, owner, dueDate, dueTime, estimate"]),
        .init(name: "create without title", text: steps(#"[{"action": "task.create", "stage": "todo"}]"#),
              expected: [f + #"rules[0].do[0]: task.create needs "title""#]),
        .init(name: "move without stage", text: steps(#"[{"action": "task.move", "task": {"id": "1"}}]"#),
              expected: [f + #"rules[0].do[0]: task.move needs "stage""#]),
        .init(name: "assign without owner", text: steps(#"[{"action": "task.assign", "task": {"id": "1"}}]"#),
              expected: [f + #"rules[0].do[0]: task.assign needs "owner""#]),
        .init(name: "delegate without agent", text: steps(#"[{"action": "agent.delegate", "task": {"id": "1"}, "prompt": "p"}]"#),
              expected: [f + #"rules[0].do[0]: agent.delegate needs "agent""#]),
        .init(name: "first step without a task", text: steps(#"[{"action": "task.complete"}]"#),
              expected: [f + #"rules[0].do[0]: task.complete needs "task": {"id": …}, {"link": …} or {"step": …} (no earlier step provides one)"#]),
        .init(name: "step without action", text: steps(#"[{"title": "x"}]"#),
              expected: [f + #"rules[0].do[0]: missing required key "action""#]),
        .init(name: "misspelled action", text: steps(#"[{"action": "task.craete", "title": "x"}]"#),
              expected: [f + #"rules[0].do[0].action: unknown value "task.craete" (did you mean "task.create"?); expected one of "task.create", "task.update", "task.move", "task.complete", "task.reopen", "task.assign", "task.unassign", "agent.delegate""#]),
        .init(name: "field the action does not take", text: steps(#"[{"action": "task.complete", "task": {"id": "1"}, "stage": "done"}]"#),
              expected: [f + #"rules[0].do[0].stage: unknown key "stage""#]),
        .init(name: "task given two ways", text: steps(#"[{"action": "task.complete", "task": {"id": "1", "link": "x"}}]"#),
              expected: [f + #"rules[0].do[0].task: give exactly one of "id", "link" or "step""#]),
        .init(name: "ifExists on a non-create step", text: steps(#"[{"action": "task.complete", "task": {"id": "1"}, "link": {"key": "k", "ifExists": "skip"}}]"#),
              expected: [f + #"rules[0].do[0].link.ifExists: unknown key "ifExists""#]),
        .init(name: "unknown ifExists", text: steps(#"[{"action": "task.create", "title": "t", "link": {"key": "k", "ifExists": "reopne"}}]"#),
              expected: [f + #"rules[0].do[0].link.ifExists: unknown value "reopne" (did you mean "reopen"?); expected one of "skip", "update", "reopen""#]),
        .init(name: "empty title", text: steps(#"[{"action": "task.create", "title": ""}]"#),
              expected: [f + "rules[0].do[0].title: must not be empty"]),
        .init(name: "due date of the wrong type", text: steps(#"[{"action": "task.create", "title": "t", "dueDate": true}]"#),
              expected: [f + "rules[0].do[0].dueDate: expected a number or a template string, found boolean"]),
        .init(name: "number in a text field", text: steps(#"[{"action": "task.create", "title": 5}]"#),
              expected: [f + "rules[0].do[0].title: expected a template string, found number"]),
        .init(name: "duplicate step id", text: steps(#"[{"id": "a", "action": "task.create", "title": "t"}, {"id": "a", "action": "task.create", "title": "u"}]"#),
              expected: [f + #"rules[0].do[1].id: duplicate step id "a""#]),
        .init(name: "no steps", text: steps("[]"),
              expected: [f + "rules[0].do: a rule needs at least one step"]),
        .init(name: "unknown step target", text: steps(#"[{"action": "task.complete", "task": {"id": "1"}, "target": "zylon"}]"#),
              expected: [f + #"rules[0].do[0].target: unknown target "zylon"; configured targets: groupchat"#]),
        .init(name: "misspelled source", text: rule(#""id": "r", "sources": ["githb"], "events": ["push"], "# + completeStep),
              expected: [f + #"rules[0].sources[0]: unknown source "githb" (did you mean "github"?); configured sources: github, sentry, widget"#]),
        .init(name: "misspelled source as a string", text: rule(#""id": "r", "sources": "sentyr", "events": ["push"], "# + completeStep),
              expected: [f + #"rules[0].sources: unknown source "sentyr" (did you mean "sentry"?); configured sources: github, sentry, widget"#]),
        .init(name: "sources of the wrong type (reported once)", text: rule(#""id": "r", "sources": 1, "events": ["push"], "# + completeStep),
              expected: [f + "rules[0].sources: expected an array, found number"]),
        .init(name: "no events", text: rule(#""id": "r", "sources": ["github"], "events": [], "# + completeStep),
              expected: [f + #"rules[0].events: list at least one event type, e.g. "issue.created" or "pull_request.*""#]),
        .init(name: "misspelled target", text: rule(head + #""target": "groupchta", "# + completeStep),
              expected: [f + #"rules[0].target: unknown target "groupchta" (did you mean "groupchat"?); configured targets: groupchat"#]),
        .init(name: "misspelled rule key", text: rule(head + #""whne": {}, "# + completeStep),
              expected: [f + #"rules[0].whne: unknown key "whne" (did you mean "when"?)"#]),
        .init(name: "missing id", text: rule(#""sources": ["github"], "events": ["push"], "# + completeStep),
              expected: [f + #"rules[0]: missing required key "id""#]),
        .init(name: "bad id", text: rule(#""id": "has space", "sources": ["github"], "events": ["push"], "# + completeStep),
              expected: [f + #"rules[0].id: rule id "has space" must be up to 100 letters, digits, "-", "_", "." or ":""#]),
        .init(name: "rules is not a list", text: #"{"rules": {}}"#,
              expected: [f + "rules: expected an array, found object"]),
        .init(name: "no rules key", text: #"{"rule": []}"#,
              expected: [f + #"rule: unknown key "rule" (did you mean "rules"?)"#, f + #"(top level): missing required key "rules""#]),
        .init(name: "malformed file", text: #"{"rules": [}"#,
              expected: [f + #"(top level): malformed JSON at byte 11: unexpected "}", expected a value"#]),
    ]

    @Test(arguments: cases)
    func reportsLocatedProblems(_ c: Case) {
        let got = Fixtures.ruleDiagnostics(c.text)
        if c.name == "bad regex" {
            // The regex engine's own explanation follows the prefix.
            #expect(got.count == 1)
            #expect(got.first?.hasPrefix(c.expected[0]) == true, "\(got)")
            #expect((got.first?.count ?? 0) > c.expected[0].count)
        } else {
            #expect(got == c.expected)
        }
    }

    @Test func duplicateRuleIdsAcrossFiles() throws {
        let a = RuleParser.RuleFile(path: "rules/a.json", bytes: Array(Self.rule(#""id": "dup", "sources": ["github"], "events": ["push"], "# + Self.completeStep).utf8))
        let b = RuleParser.RuleFile(path: "rules/b.json", bytes: Array(Self.rule(#""id": "dup", "sources": ["sentry"], "events": ["issue.created"], "# + Self.completeStep).utf8))
        // Files are read in path order whatever order they are given in.
        let config = try Fixtures.shippedConfig()
        #expect(Fixtures.diagnostics { _ = try RuleParser(config: config).parse([b, a]) } == [
            #"rules/b.json: rules[0].id: duplicate rule id "dup" (first defined in rules/a.json: rules[0])"#,
        ])
    }

    @Test func duplicateRuleIdInOneFile() {
        let text = #"{"rules": [{"id": "x", "sources": ["github"], "events": ["push"], "do": [{"action": "task.create", "title": "a"}]}, {"id": "x", "sources": ["github"], "events": ["push"], "do": [{"action": "task.create", "title": "b"}]}]}"#
        #expect(Fixtures.ruleDiagnostics(text) == [#"rules/test.json: rules[1].id: duplicate rule id "x" (first defined in rules/test.json: rules[0])"#])
    }

    @Test func collectsProblemsFromEveryRuleAndFile() throws {
        let one = RuleParser.RuleFile(path: "one.json", bytes: Array(#"""
        {"rules": [
          {"id": "a", "sources": ["github"], "events": ["push"], "when": {"path": "body.ref", "eqauls": "x"}, "do": [{"action": "task.create", "title": "t"}]},
          {"id": "b", "sources": ["github"], "events": ["push"], "do": [{"action": "task.create", "title": "{{ body.ref | lowr }}"}]}
        ]}
        """#.utf8))
        let two = RuleParser.RuleFile(path: "two.json", bytes: Array("{".utf8))
        let config = try Fixtures.shippedConfig()
        #expect(Fixtures.diagnostics { _ = try RuleParser(config: config).parse([two, one]) } == [
            #"one.json: rules[0].when.eqauls: unknown operator "eqauls" (did you mean "equals"?)"#,
            #"one.json: rules[1].do[0].title: unknown filter "lowr" (did you mean "lower"?); filters: lower, upper, trim, truncate, default, json, date, unixms, join, first"#,
            "two.json: (top level): malformed JSON at byte 1: unexpected end of input in an object",
        ])
    }

    @Test func targetMustBeNamedWhenThereAreSeveralOrNone() throws {
        func config(_ targets: String) throws -> TaskBridgeConfig {
            try ConfigParser.parse(Array((#"{"sources": {"github": {"kind": "github", "secrets": [{"env": "A"}]}}, "targets": "# + targets + "}").utf8), file: "c.json", kinds: TargetKinds.all)
        }
        let ruleText = Self.rule(#""id": "r", "sources": ["github"], "events": ["push"], "# + Self.completeStep)
        let file = RuleParser.RuleFile(path: "r.json", bytes: Array(ruleText.utf8))
        let none = try config("{}")
        let two = try config(#"{"b": {"kind": "groupchat", "token": {"env": "T"}}, "a": {"kind": "groupchat", "token": {"env": "U"}}}"#)
        #expect(Fixtures.diagnostics { _ = try RuleParser(config: none).parse([file]) }
            == [#"r.json: rules[0]: no target is configured; add one under "targets" in the config"#])
        #expect(Fixtures.diagnostics { _ = try RuleParser(config: two).parse([file]) }
            == [#"r.json: rules[0]: several targets are configured (a, b); name one with "target""#])
        let named = RuleParser.RuleFile(path: "r.json", bytes: Array(Self.rule(#""id": "r", "sources": ["github"], "events": ["push"], "target": "b", "# + Self.completeStep).utf8))
        #expect(try RuleParser(config: two).parse([named]).rules[0].target == "b")
    }

    @Test func storedRuleThatNoLongerValidates() throws {
        let parser = RuleParser(config: try Fixtures.shippedConfig())
        #expect(Fixtures.diagnostics {
            _ = try parser.parseStoredRule(#"{"id": "old", "sources": ["gitlab"], "events": ["push"], "do": [{"action": "task.create", "title": "t"}]}"#, file: "stored rule old")
        } == [#"stored rule old: sources[0]: unknown source "gitlab" (did you mean "github"?); configured sources: github, sentry, widget"#])
        #expect(Fixtures.diagnostics { _ = try parser.parseStoredRule("{", file: "stored rule old") }
            == ["stored rule old: (top level): malformed JSON at byte 1: unexpected end of input in an object"])
    }
}

@Suite struct StepsReadLaterTests {
    /// Outputs a later step reads must be stored in full (a job resumed after a restart
    /// renders from stored outputs); the others can be kept compact.
    @Test func findsStepsWhoseOutputsLaterStepsRead() throws {
        let rules = try Fixtures.parseRules(#"""
        {"rules": [
          {"id": "a", "sources": ["github"], "events": ["push"], "do": [
            {"id": "made", "action": "task.create", "title": "t"},
            {"id": "other", "action": "task.create", "title": "u"},
            {"action": "task.update", "task": {"step": "other"}, "title": "{{ steps.made.task.title }} (copy)"}
          ]},
          {"id": "b", "sources": ["github"], "events": ["push"], "do": [
            {"action": "task.create", "title": "t"},
            {"action": "task.complete"}
          ]}
        ]}
        """#)
        #expect(rules.rule(id: "a")?.stepsReadLater == ["made", "other"])
        #expect(rules.rule(id: "b")?.stepsReadLater == [])
    }
}
