import Testing
@testable import TaskBridgeCore
import TaskBridgeTargets

/// Object-valued step fields (``ActionSpec/objectFields``): declared keys only, leaves
/// that are templates or (declared) numbers, choices, and errors at the leaf's path.
/// The action here is made up, so nothing depends on a real kind's actions.
@Suite struct ObjectFieldTests {
    static let action = ActionSpec(
        "test.follow", fields: ["task", "wait", "mode"], numeric: ["wait.maxMinutes"], nullable: ["wait"],
        objectFields: ["wait": ["until", "maxMinutes"]], choices: ["wait.until": ["finished"], "mode": ["fast", "slow"]],
        needsTask: true)

    static func config() throws -> TaskBridgeConfig {
        var config = try Fixtures.shippedConfig()
        config.targets["groupchat"]?.actions.append(action)
        return config
    }

    static func parse(_ step: String) throws(DiagnosticsError) -> RuleSet {
        let text = #"{"rules": [{"id": "r", "sources": ["github"], "events": ["push"], "do": [{"action": "task.create", "title": "t"}, "#
            + step + "]}]}"
        let config: TaskBridgeConfig
        do { config = try Self.config() } catch { throw DiagnosticsError([]) }
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

    @Test func parsesAndRendersAnObjectField() throws {
        let set = try Self.parse(#"{"id": "f", "action": "test.follow", "wait": {"until": "finished", "maxMinutes": "{{ body.minutes }}"}}"#)
        let step = set.rules[0].steps[1]
        guard case .object(let members)? = step.values["wait"] else {
            Issue.record("wait is not an object: \(String(describing: step.values["wait"]))")
            return
        }
        #expect(Set(members.keys) == ["until", "maxMinutes"])
        // Templates inside the object count as the step's (payload paths, steps read).
        #expect(step.templates.contains { $0.paths.contains { $0.root == "body" } })
        let context = Fixtures.context(source: "github", type: "push", body: ["minutes": "45"],
                                       steps: ["0": ["task": ["id": "t1"]]])
        let rendered = try step.render(context, previousTask: "t1")
        #expect(rendered.values["wait"] == ["until": "finished", "maxMinutes": 45])
        #expect(rendered.task == .id("t1"))
    }

    @Test func numberLiteralsAndNullWhereDeclared() throws {
        let set = try Self.parse(#"{"action": "test.follow", "wait": {"maxMinutes": 30}}, {"action": "test.follow", "wait": null}"#)
        let context = Fixtures.context(source: "github", type: "push", body: [:])
        #expect(try set.rules[0].steps[1].render(context, previousTask: "t").values["wait"] == ["maxMinutes": 30])
        #expect(try set.rules[0].steps[2].render(context, previousTask: "t").values["wait"] == .null)
    }

    @Test func reportsProblemsAtTheLeaf() {
        #expect(Self.problems(#"{"action": "test.follow", "wait": {"untill": "finished"}}"#)
            == [#"r.json: rules[0].do[1].wait.untill: unknown key "untill" (did you mean "until"?)"#])
        #expect(Self.problems(#"{"action": "test.follow", "wait": {"until": "finshed"}}"#)
            == [#"r.json: rules[0].do[1].wait.until: unknown value "finshed" (did you mean "finished"?); expected one of "finished""#])
        #expect(Self.problems(#"{"action": "test.follow", "wait": {"until": 5}}"#)
            == [#"r.json: rules[0].do[1].wait.until: expected a template string, found number"#])
        #expect(Self.problems(#"{"action": "test.follow", "wait": {"maxMinutes": true}}"#)
            == [#"r.json: rules[0].do[1].wait.maxMinutes: expected a number or a template string, found boolean"#])
        #expect(Self.problems(#"{"action": "test.follow", "wait": {"maxMinutes": {"nested": 1}}}"#)
            == [#"r.json: rules[0].do[1].wait.maxMinutes: expected a number or a template string, found object"#])
        #expect(Self.problems(#"{"action": "test.follow", "wait": "finished"}"#)
            == [#"r.json: rules[0].do[1].wait: expected an object (keys until, maxMinutes), found string"#])
        #expect(Self.problems(#"{"action": "test.follow", "wait": {"maxMinutes": "{{ body.x | lowr }}"}}"#).first?
            .hasPrefix(#"r.json: rules[0].do[1].wait.maxMinutes: unknown filter "lowr""#) == true)
        #expect(Self.problems(#"{"action": "test.follow", "mode": "quick"}"#)
            == [#"r.json: rules[0].do[1].mode: unknown value "quick"; expected one of "fast", "slow""#])
    }

    @Test func renderingChecksNumbersAndChoices() throws {
        let set = try Self.parse(#"{"action": "test.follow", "mode": "{{ body.mode }}", "wait": {"maxMinutes": "{{ body.m }}"}}"#)
        let step = set.rules[0].steps[1]
        let bad = Fixtures.context(source: "github", type: "push", body: ["mode": "fast", "m": "soon"])
        #expect(throws: StepRenderError(location: "rules[0].do[1].wait.maxMinutes", reason: #"expected a number, got "soon""#)) {
            try step.render(bad, previousTask: "t")
        }
        let choice = Fixtures.context(source: "github", type: "push", body: ["mode": "quick", "m": 5])
        #expect(throws: StepRenderError(location: "rules[0].do[1].mode", reason: #"rendered to "quick"; expected one of "fast", "slow""#)) {
            try step.render(choice, previousTask: "t")
        }
    }
}
