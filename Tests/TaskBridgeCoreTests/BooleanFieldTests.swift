import Testing
@testable import TaskBridgeCore
import TaskBridgeTargets

/// Boolean step fields (``ActionSpec/booleanFields``): `true`/`false` literals, or a
/// template that renders to one; anything else is reported at the field. The action
/// here is made up, so nothing depends on a real kind's actions.
@Suite struct BooleanFieldTests {
    static let action = ActionSpec("test.flag", fields: ["task", "all", "note"], boolean: ["all"], needsTask: true)

    static func parse(_ step: String) throws(DiagnosticsError) -> RuleSet {
        let text = #"{"rules": [{"id": "r", "sources": ["github"], "events": ["push"], "do": [{"action": "task.create", "title": "t"}, "#
            + step + "]}]}"
        let config: TaskBridgeConfig
        do {
            var c = try Fixtures.shippedConfig()
            c.targets["groupchat"]?.actions.append(action)
            config = c
        } catch {
            throw DiagnosticsError([])
        }
        return try RuleParser(config: config).parse([.init(path: "r.json", bytes: Array(text.utf8))])
    }

    static func problems(_ step: String) -> [String] {
        do {
            _ = try parse(step)
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    static let context = Fixtures.context(source: "github", type: "push", body: ["all": "true", "no": " false ", "bad": "yes"])

    @Test func literalsAndTemplatesRenderToBooleans() throws {
        let set = try Self.parse(#"{"action": "test.flag", "all": true}, {"action": "test.flag", "all": false}, "#
            + #"{"action": "test.flag", "all": "{{ body.all }}"}, {"action": "test.flag", "all": "{{ body.no }}", "note": "true"}"#)
        let steps = set.rules[0].steps
        #expect(steps[1].values["all"] == .bool(true))
        #expect(try steps[1].render(Self.context, previousTask: "t").values["all"] == true)
        #expect(try steps[2].render(Self.context, previousTask: "t").values["all"] == false)
        #expect(try steps[3].render(Self.context, previousTask: "t").values["all"] == true)
        let other = try steps[4].render(Self.context, previousTask: "t")
        #expect(other.values["all"] == false)
        // Only declared fields are booleans: another field's "true" stays text.
        #expect(other.values["note"] == "true")
    }

    @Test func otherValuesAreReportedAtTheField() throws {
        #expect(Self.problems(#"{"action": "test.flag", "all": 1}"#)
            == [#"r.json: rules[0].do[1].all: expected true, false or a template string, found number"#])
        #expect(Self.problems(#"{"action": "test.flag", "note": true}"#)
            == [#"r.json: rules[0].do[1].note: expected a template string, found boolean"#])
        let set = try Self.parse(#"{"action": "test.flag", "all": "{{ body.bad }}"}"#)
        #expect(throws: StepRenderError(location: "rules[0].do[1].all", reason: #"expected true or false, got "yes""#)) {
            try set.rules[0].steps[1].render(Self.context, previousTask: "t")
        }
    }
}
