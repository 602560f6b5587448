import Testing
import TaskBridgeCore
import TaskBridgeTargets

/// Steps are checked against their target's kind: an action another kind has is an
/// error that names the kinds which do, and a kind's own actions parse.
@Suite struct TargetKindRuleTests {
    static let config = """
    {"sources": {"sentry": {"kind": "sentry", "secrets": [{"env": "S"}]}},
     "targets": {"gc": {"kind": "groupchat", "token": {"env": "T"}},
                 "ph": {"kind": "posthog", "token": {"env": "P"}, "projectId": 1},
                 "zy": {"kind": "zylon", "baseURL": "https://zylon.example.com", "token": {"env": "Z"}, "org": "acme"}}}
    """

    func parse(_ steps: String) throws -> [String] {
        let config = try ConfigParser.parse(Array(Self.config.utf8), file: "taskbridge.json", kinds: TargetKinds.all)
        let rules = #"{"rules": [{"id": "r", "sources": ["sentry"], "events": ["issue.created"], "target": "gc", "do": [\#(steps)]}]}"#
        do {
            _ = try RuleParser(config: config).parse([.init(path: "rules.json", bytes: Array(rules.utf8))])
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    @Test func anActionOfAnotherKindNamesTheKindsThatHaveIt() throws {
        #expect(try parse(#"{"action": "posthog.task.run", "task": {"id": "1"}}"#) == [
            #"rules.json: rules[0].do[0].action: "posthog.task.run" is not an action of target gc (kind groupchat); kinds that have it: posthog"#,
        ])
        #expect(try parse(#"{"action": "task.create", "target": "zy", "title": "t"}"#) == [
            #"rules.json: rules[0].do[0].action: "task.create" is not an action of target zy (kind zylon); kinds that have it: groupchat"#,
        ])
    }

    @Test func eachKindParsesItsOwnActions() throws {
        #expect(try parse("""
            {"id": "t", "action": "task.create", "title": "t"},
            {"id": "p", "action": "posthog.task.create", "target": "ph", "title": "Fix it", "repository": "acme/api"},
            {"id": "run", "action": "posthog.task.run", "target": "ph", "task": {"step": "p"}, "wait": {"until": "finished", "maxMinutes": 30}},
            {"id": "z", "action": "zylon.chat", "target": "zy", "project": "proj_support", "message": "{{ steps.run.pr_url }}"}
            """) == [])
    }

    @Test func anUnknownKindListsTheKnownOnes() throws {
        let text = #"{"sources": {"sentry": {"kind": "sentry", "secrets": [{"env": "S"}]}}, "targets": {"x": {"kind": "posthogg", "token": {"env": "T"}}}}"#
        #expect(throws: DiagnosticsError.self) { _ = try ConfigParser.parse(Array(text.utf8), file: "taskbridge.json", kinds: TargetKinds.all) }
        do {
            _ = try ConfigParser.parse(Array(text.utf8), file: "taskbridge.json", kinds: TargetKinds.all)
        } catch {
            #expect(error.diagnostics.map(\.description) == [
                #"taskbridge.json: targets.x.kind: unknown value "posthogg" (did you mean "posthog"?); expected one of "groupchat", "posthog", "zylon""#,
            ])
        }
    }
}
