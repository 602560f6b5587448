import Testing
@testable import TaskBridgeCore
import TaskBridgeTargets

@Suite("Templates and step rendering")
struct TemplateTests {
    static func prOpened() throws -> EventContext {
        Fixtures.context(source: "github", type: "pull_request.opened", body: try Fixtures.json("github/pull_request.opened"),
                         headers: ["x-github-event": "pull_request"], captures: ["task": "task_7"],
                         steps: ["create": ["task": ["id": "T-1", "url": "https://groupchat.ai/t/T-1"]]])
    }

    static func alert() throws -> EventContext {
        Fixtures.context(source: "sentry", type: "event_alert.triggered", body: try Fixtures.json("sentry/event_alert.triggered"))
    }

    static func render(_ text: String, _ context: EventContext) throws -> String {
        try Template(parsing: text).render(context)
    }

    static func renderError(_ text: String, _ context: EventContext) throws -> TemplateError? {
        let t = try Template(parsing: text)
        do throws(TemplateError) {
            _ = try t.render(context)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Rendering

    @Test(arguments: [
        ("plain text", "plain text"),
        ("{{ body.action }}", "opened"),
        ("{{body.action}}", "opened"),
        ("PR #{{ body.number }} by {{ body.sender.login }}", "PR #2 by Codertocat"),
        ("{{ body.pull_request.title | lower }}", "update the readme with new information."),
        ("{{ body.pull_request.head.ref | upper }}", "CHANGES"),
        (#"{{ "  padded  " | trim }}"#, "padded"),
        ("{{ body.pull_request.title | truncate 10 }}", "Update th…"),
        ("{{ body.pull_request.title | truncate 39 }}", "Update the README with new information."),
        ("{{ body.pull_request.title | truncate 38 }}", "Update the README with new informatio…"),
        ("{{ body.pull_request.title | truncate 1 }}", "…"),
        (#"{{ body.nope | default "n/a" }}"#, "n/a"),
        (#"{{ body.pull_request.merged_at | default "not merged" }}"#, "not merged"),
        (#"{{ body.pull_request.body | default "x" }}"#, "This is a pretty simple change that we need to pull into master."),
        (#"{{ body.nope | upper | default "rescued after a filter" }}"#, "rescued after a filter"),
        (#"{{ body.nope | default "a|b" }}"#, "a|b"),
        (#"{{ body.nope | default "say \"hi\"" }}"#, #"say "hi""#),
        (#"{{ body.nope | default "" }}"#, ""),
        (#"{{ "x\"y" | upper }}"#, #"X"Y"#),
        (#"{{ body.pull_request.labels[*].name | join ", " }}"#, "bug"),
        (#"{{ body.pull_request.requested_reviewers[*].login | first }}"#, "octocat"),
        (#"{{ body.action | join "," }}"#, "opened"),
        ("{{ body.action | first }}", "opened"),
        ("{{ body.pull_request.labels[*].name }}", #"["bug"]"#),
        ("{{ body.pull_request.draft }}", "false"),
        ("{{ body.pull_request.head.repo.owner.login | lower | truncate 4 }}", "cod…"),
        ("{{ headers.x-github-event }}/{{ event.type }}/{{ event.source }}/{{ event.dedupeKey }}/{{ event.id }}",
         "pull_request/pull_request.opened/github/delivery-1/evt_test"),
        ("{{ event.receivedAt }} {{ client.ip }}", "1700000000000 203.0.113.9"),
        ("gc:{{ captures.task }} {{ steps.create.task.id }} {{ steps.create.task }}",
         #"gc:task_7 T-1 {"id":"T-1","url":"https://groupchat.ai/t/T-1"}"#),
        (#"{{ body["action"] }}"#, "opened"),
        ("{{ body.pull_request.title | json }}", "Update the README with new information."),
    ])
    func rendersAgainstARealPullRequest(template: String, expected: String) throws {
        #expect(try Self.render(template, Self.prOpened()) == expected)
    }

    @Test(arguments: [
        ("{{ body.data.event.timestamp | date }}", "2019-08-19T21:06:17Z"),
        ("{{ body.data.event.timestamp }}", "1566248777.677"),
        ("{{ body.data.event.timestamp | unixms }}", "1566248777677"),
        ("{{ body.data.event.tags[*][0] | join \",\" }}",
         "browser,browser.name,handled,level,mechanism,os,os.name,user,url"),
        ("{{ body.data.event.tags[*][1] | first }}", "Chrome 75.0.3770"),
        ("{{ body.data.event.tags[0] }}", #"["browser","Chrome 75.0.3770"]"#),
        ("{{ body.data.triggered_rule | upper }}", "VERY IMPORTANT ALERT RULE!"),
    ])
    func rendersAgainstARealSentryAlert(template: String, expected: String) throws {
        #expect(try Self.render(template, Self.alert()) == expected)
    }

    @Test(arguments: [
        (JSONValue.number(0), "1970-01-01T00:00:00Z"),
        (.number(1_700_000_000), "2023-11-14T22:13:20Z"),
        (.number(1_700_000_000_000), "2023-11-14T22:13:20Z"),   // milliseconds
        (.string(" 1700000000 "), "2023-11-14T22:13:20Z"),
        (.number(951_782_400), "2000-02-29T00:00:00Z"),
        (.number(-1), "1969-12-31T23:59:59Z"),
    ])
    func dateFilter(value: JSONValue, expected: String) throws {
        let ctx = Fixtures.context(source: "widget", type: "t", body: ["t": value])
        #expect(try Self.render("{{ body.t | date }}", ctx) == expected)
    }

    @Test func jsonFilterEscapesForEmbedding() throws {
        let ctx = Fixtures.context(source: "widget", type: "t", body: ["m": "say \"hi\"\\\n\ttab"])
        #expect(try Self.render(#"{"text": "{{ body.m | json }}"}"#, ctx) == #"{"text": "say \"hi\"\\\n\ttab"}"#)
        // The result is valid JSON that decodes to the original text.
        let rendered = try Self.render(#"{"text": "{{ body.m | json }}"}"#, ctx)
        #expect(try JSONParser.parse(rendered) == ["text": "say \"hi\"\\\n\ttab"])
    }

    @Test func numbersRender() throws {
        let ctx = Fixtures.context(source: "widget", type: "t", body: ["i": 42, "f": 0.1, "neg": -3, "big": 1e20, "o": ["b": 1, "a": [true, nil]]])
        #expect(try Self.render("{{ body.i }} {{ body.f }} {{ body.neg }} {{ body.big }}", ctx) == "42 0.1 -3 1e+20")
        #expect(try Self.render("{{ body.o }}", ctx) == #"{"a":[true,null],"b":1}"#)
        #expect(try Self.render("{{ body.i | unixms }}", ctx) == "42000")
    }

    // MARK: Missing values

    @Test func aMissingValueIsAnError() throws {
        let e = try #require(try Self.renderError("Title: {{ body.nope }}", Self.prOpened()))
        #expect(e == TemplateError(template: "Title: {{ body.nope }}",
                                   reason: #"no value at body.nope; add | default "…" if it is optional"#, missingPath: "body.nope"))
        #expect(e.description == #"template "Title: {{ body.nope }}": no value at body.nope; add | default "…" if it is optional"#)
    }

    @Test(arguments: [
        ("{{ body.pull_request.merged_at }}", "body.pull_request.merged_at"),   // JSON null
        ("{{ body.pull_request.labels[3].name }}", "body.pull_request.labels[3].name"),
        ("{{ body.pull_request.requested_teams[*].name | first }}", "body.pull_request.requested_teams[*].name"),
        ("{{ captures.missing }}", "captures.missing"),
        ("{{ steps.later.task.id }}", "steps.later.task.id"),
        ("{{ body.nope | upper | trim }}", "body.nope"),
    ])
    func missingValues(template: String, path: String) throws {
        let e = try #require(try Self.renderError(template, Self.prOpened()))
        #expect(e.missingPath == path)
        #expect(e.reason == "no value at \(path); add | default \"…\" if it is optional")
    }

    @Test func filterErrorsAreNotMissingValues() throws {
        let e = try #require(try Self.renderError("{{ body.action | date }}", Self.prOpened()))
        #expect(e == TemplateError(template: "{{ body.action | date }}", reason: "filter \"date\" needs a Unix time, found string opened"))
        let u = try #require(try Self.renderError("{{ body.pull_request.head | unixms }}", Self.prOpened()))
        #expect(u.reason.hasPrefix("filter \"unixms\" needs a Unix time, found object {\"label\":"))
        #expect(u.missingPath == nil)
    }

    // MARK: renderValue

    @Test func renderValueKeepsTypesForASinglePlaceholder() throws {
        let ctx = try Self.prOpened()
        #expect(try Template(parsing: "{{ body.number }}").renderValue(ctx) == .number(2))
        #expect(try Template(parsing: "{{ body.pull_request.draft }}").renderValue(ctx) == .bool(false))
        #expect(try Template(parsing: #"{{ body.number | default "0" }}"#).renderValue(ctx) == .number(2))
        #expect(try Template(parsing: "{{ body.pull_request.labels[*].name }}").renderValue(ctx) == .array(["bug"]))
        #expect(try Template(parsing: "#{{ body.number }}").renderValue(ctx) == .string("#2"))
        #expect(try Template(parsing: " {{ body.number }}").renderValue(ctx) == .string(" 2"))
        #expect(try Template(parsing: "7").renderValue(ctx) == .string("7"))
    }

    // MARK: Parsing

    @Test func partsAndPaths() throws {
        let t = try Template(parsing: #"PR {{ body.number }}: {{ body.pull_request.title | truncate 80 | default "?" }}{{ "!" }}"#)
        #expect(t.paths.map(\.description) == ["body.number", "body.pull_request.title"])
        #expect(!t.isConstant)
        #expect(t.parts.count == 5)
        #expect(t.parts[0] == .literal("PR "))
        #expect(t.parts[2] == .literal(": "))
        guard case .expression(let e) = t.parts[3] else {
            Issue.record("expected an expression")
            return
        }
        #expect(e.filters == [.truncate(80), .fallback("?")])
        #expect(t.description == #"PR {{ body.number }}: {{ body.pull_request.title | truncate 80 | default "?" }}{{ "!" }}"#)
        #expect(try Template(parsing: "doing").isConstant)
        #expect(try Template(parsing: "").parts.isEmpty)
    }

    @Test(arguments: [
        ("{{ body.x", #""{{" is never closed with "}}""#),
        ("{{ }}", #"empty placeholder "{{ }}""#),
        ("{{ | upper }}", #"empty placeholder "{{ | upper }}""#),
        (#"{{ "abc }}"#, #"unterminated string "abc"#),
        ("{{ bdy.x }}", #"unknown root "bdy" in "bdy.x"; paths start with event, body, headers, client, captures, steps"#),
        ("{{ body..x }}", #"invalid path "body..x": unexpected "." at position 6"#),
        ("{{ body.x | lowr }}", #"unknown filter "lowr" (did you mean "lower"?); filters: lower, upper, trim, truncate, default, json, date, unixms, join, first"#),
        ("{{ body.x | truncate 0 }}", #"filter "truncate" needs a positive length, e.g. truncate 80"#),
        ("{{ body.x | truncate many }}", #"filter "truncate" needs a positive length, e.g. truncate 80"#),
        ("{{ body.x | default }}", #"filter "default" needs a quoted string argument, e.g. default "…""#),
        ("{{ body.x | join , }}", #"filter "join" needs a quoted string argument, e.g. join "…""#),
        ("{{ body.x | trim 3 }}", #"filter "trim" takes no argument"#),
        ("{{ body.x | }}", #"unknown filter ""; filters: lower, upper, trim, truncate, default, json, date, unixms, join, first"#),
    ])
    func parseErrors(text: String, reason: String) {
        #expect(throws: TemplateError(template: text, reason: reason)) {
            try Template(parsing: text)
        }
    }

    // MARK: StepSpec.render over the example rules

    static func step(_ ruleId: String, _ index: Int = 0) throws -> StepSpec {
        try #require(try Fixtures.exampleRules().rule(id: ruleId)).steps[index]
    }

    @Test func sentryIssueTaskStep() throws {
        let ctx = Fixtures.context(source: "sentry", type: "issue.created", body: try Fixtures.json("sentry/issue.created"))
        let r = try Self.step("sentry-issue-task").render(ctx, previousTask: nil)
        #expect(r == RenderedStep(
            stepId: "task", action: .taskCreate, target: "groupchat", task: nil,
            values: [
                "project": "Engineering", "stage": "todo",
                "title": "[Sentry] ReferenceError: blooopy is not defined",
                "description": "FRONT-END-9 in front-end (error)\nCulprit: ?(runner)\nFirst seen: 2019-08-19T20:58:37.391000Z",
            ],
            linkKey: "sentry-issue:1170820242", ifLinked: .skip))
    }

    @Test func sentryAlertTaskStep() throws {
        let r = try Self.step("sentry-alert-task").render(Self.alert(), previousTask: nil)
        #expect(r.values["title"] == "[Sentry] ReferenceError: heck is not defined")
        #expect(r.values["description"] == .string("Alert \"Very Important Alert Rule!\" fired (error).\nhttps://sentry.io/organizations/test-org/issues/1117540176/events/e4874d664c3540c1a32eab185f12c5ab/"))
        #expect(r.linkKey == "sentry-issue:1117540176")
        #expect(r.ifLinked == .reopen)
    }

    @Test func fatalDelegationStep() throws {
        let ctx = Fixtures.context(source: "sentry", type: "issue.created", body: try DerivedVariant.sentryIssueFatal.document())
        let r = try Self.step("sentry-fatal-to-agent").render(ctx, previousTask: nil)
        #expect(r == RenderedStep(
            stepId: "0", action: .agentDelegate, target: "groupchat", task: .link("sentry-issue:1170820242"),
            values: ["agent": "Triage Bot", "prompt": "Investigate the fatal Sentry issue FRONT-END-9: ReferenceError: blooopy is not defined"]))
    }

    @Test func pullRequestMoveStep() throws {
        let ctx = Fixtures.context(source: "github", type: "pull_request.opened", body: try DerivedVariant.prOpenedAsDraft.document(),
                                   captures: ["task": "task_7"])
        let r = try Self.step("pr-draft-doing").render(ctx, previousTask: nil)
        #expect(r == RenderedStep(stepId: "0", action: .taskMove, target: "groupchat", task: .id("task_7"),
                                  values: ["stage": "doing"], linkKey: "github-pr:Codertocat/Hello-World#2", ifLinked: .skip))
    }

    @Test func widgetTriageStep() throws {
        let ctx = Fixtures.context(source: "widget", type: "widget.submitted",
                                   body: ["message": "The checkout button does nothing when I click it twice in a row on the payment page", "email": "ada@example.com"])
        let r = try Self.step("widget-feedback-triage").render(ctx, previousTask: nil)
        #expect(r.values["title"] == "Feedback: The checkout button does nothing when I click it twice in a row on the payment …")
        #expect(r.values["description"] == .string("The checkout button does nothing when I click it twice in a row on the payment page\n\nPage: (not given)\nFrom: anonymous <ada@example.com>"))
        #expect(r.values["project"] == "Website")
        #expect(r.values["stage"] == "Triage")
        #expect(r.linkKey == nil)
    }

    // MARK: StepSpec.render errors

    static func steps(_ list: String, when: String? = nil) throws -> [StepSpec] {
        let w = when.map { #""when": "# + $0 + ", " } ?? ""
        return try Fixtures.parseRules(#"{"rules": [{"id": "r", "sources": ["widget"], "events": ["widget.submitted"], "# + w + #""do": "# + list + "}]}").rules[0].steps
    }

    static func renderError(_ step: StepSpec, _ ctx: EventContext, previousTask: String? = nil) -> StepRenderError? {
        do throws(StepRenderError) {
            _ = try step.render(ctx, previousTask: previousTask)
            return nil
        } catch {
            return error
        }
    }

    static func widgetContext(_ body: JSONValue, steps: [String: JSONValue] = [:]) -> EventContext {
        Fixtures.context(source: "widget", type: "widget.submitted", body: body, steps: steps)
    }

    @Test func emptyTitleIsAnError() throws {
        let s = try Self.steps(#"[{"action": "task.create", "title": "{{ body.message | trim }}"}]"#)[0]
        let e = Self.renderError(s, Self.widgetContext(["message": "   \n "]))
        #expect(e == StepRenderError(location: "rules[0].do[0].title", reason: "rendered to an empty string"))
        #expect(e?.description == "rules[0].do[0].title: rendered to an empty string")
    }

    @Test func emptyStageOwnerAgentProjectAreErrors() throws {
        let s = try Self.steps(#"[{"action": "task.create", "title": "t", "stage": "{{ body.message | default \"\" }}"}]"#)[0]
        #expect(Self.renderError(s, Self.widgetContext([:])) == StepRenderError(location: "rules[0].do[0].stage", reason: "rendered to an empty string"))
        let ok = try Self.steps(#"[{"action": "task.create", "title": "t", "description": "{{ body.message | default \"\" }}"}]"#)[0]
        #expect(try ok.render(Self.widgetContext([:]), previousTask: nil).values["description"] == "")
    }

    @Test func numericFields() throws {
        let s = try Self.steps(#"[{"action": "task.create", "title": "t", "dueDate": "{{ body.due }}", "estimate": 3, "dueTime": "{{ body.at | unixms }}"}]"#)[0]
        let r = try s.render(Self.widgetContext(["due": " 1700000000000 ", "at": 1_700_000_000]), previousTask: nil)
        #expect(r.values["dueDate"] == .number(1_700_000_000_000))
        #expect(r.values["estimate"] == .number(3))
        #expect(r.values["dueTime"] == .number(1_700_000_000_000))
        #expect(Self.renderError(s, Self.widgetContext(["due": "next tuesday", "at": 1]))
            == StepRenderError(location: "rules[0].do[0].dueDate", reason: #"expected a number, got "next tuesday""#))
        #expect(Self.renderError(s, Self.widgetContext(["due": ["x": 1], "at": 1]))
            == StepRenderError(location: "rules[0].do[0].dueDate", reason: #"expected a number, got "{"x":1}""#))
    }

    @Test func stepReferenceWithoutATask() throws {
        let s = try Self.steps(#"""
        [{"id": "create", "action": "task.create", "title": "t"},
         {"action": "task.move", "task": {"step": "create"}, "stage": "doing"}]
        """#)
        #expect(Self.renderError(s[1], Self.widgetContext([:]))
            == StepRenderError(location: "rules[0].do[1].task.step", reason: #"step "create" produced no task"#))
        #expect(Self.renderError(s[1], Self.widgetContext([:], steps: ["create": ["task": ["title": "no id"]]]))
            == StepRenderError(location: "rules[0].do[1].task.step", reason: #"step "create" produced no task"#))
        let r = try s[1].render(Self.widgetContext([:], steps: ["create": ["task": ["id": "T-9"]]]), previousTask: nil)
        #expect(r.task == .id("T-9"))
    }

    @Test func implicitTaskComesFromThePreviousStep() throws {
        let s = try Self.steps(#"[{"action": "task.create", "title": "t"}, {"action": "task.complete"}]"#)
        #expect(Self.renderError(s[1], Self.widgetContext([:]))
            == StepRenderError(location: "rules[0].do[1].task", reason: #"no task: name one with {"id"|"link"|"step": …}"#))
        #expect(try s[1].render(Self.widgetContext([:]), previousTask: "T-3").task == .id("T-3"))
    }

    @Test func missingTemplateValueInAStep() throws {
        let s = try Self.steps(#"[{"action": "task.create", "title": "{{ body.message }}"}]"#)[0]
        #expect(Self.renderError(s, Self.widgetContext([:]))
            == StepRenderError(location: "rules[0].do[0]", reason: #"template "{{ body.message }}": no value at body.message; add | default "…" if it is optional"#))
    }

    @Test func emptyTaskIdIsAnError() throws {
        let s = try Self.steps(#"[{"action": "task.complete", "task": {"id": "{{ body.message | default \"\" }} "}}]"#)[0]
        #expect(Self.renderError(s, Self.widgetContext([:]))
            == StepRenderError(location: "rules[0].do[0].task.id", reason: "rendered to an empty task id"))
        #expect(try s.render(Self.widgetContext(["message": "T-4"]), previousTask: nil).task == .id("T-4"))
    }

    @Test func nullClearsAFieldOnUpdate() throws {
        let s = try Self.steps(#"[{"action": "task.update", "task": {"id": "T-1"}, "owner": null, "dueDate": null, "title": "New"}]"#)[0]
        let r = try s.render(Self.widgetContext([:]), previousTask: nil)
        #expect(r.values == ["owner": .null, "dueDate": .null, "title": "New"])
        #expect(r.task == .id("T-1"))
    }

    @Test func stepPayloadTrieHoldsOnlyBodyPathsOfSteps() throws {
        let rule = try #require(try Fixtures.exampleRules().rule(id: "sentry-issue-task"))
        let trie = rule.stepPayloadTrie
        #expect(trie.children.keys.sorted() == ["data"])
        let issue = try #require(trie.children["data"]?.children["issue"])
        #expect(issue.children.keys.sorted() == ["culprit", "firstSeen", "id", "level", "project", "shortId", "title"])
        #expect(issue.children["project"]?.children.keys.sorted() == ["slug"])
        #expect(issue.children["title"]?.keepAll == true)
    }

    @Test func batchableActions() {
        #expect(GroupChatKind().actions.filter(\.batchable) == [.taskUpdate, .taskMove, .taskComplete, .taskReopen, .taskAssign, .taskUnassign])
    }
}
