extension RuleParser {
    func parseStep(_ node: JSONNode, index: Int, ruleTarget: String, earlier: [StepSpec], scope: Scope) -> StepSpec? {
        let sink = node.sink
        let before = sink.diagnostics.count
        guard case .object(let members) = node.value else {
            node.report("expected a step object, found \(node.value.typeName)")
            return nil
        }
        let raw = JSONObjectNode(members: members, path: node.path, sink: sink)
        // The target decides which actions exist: its kind declares them.
        var target = ruleTarget
        if let n = raw.node("target"), let name = n.string() {
            if config.targets[name] == nil {
                n.report("unknown target \"\(name)\"; configured targets: \(config.targets.keys.sorted().joined(separator: ", "))")
                return nil
            }
            target = name
        }
        guard let actionNode = raw.required("action"), let actionName = actionNode.string() else { return nil }
        guard let targetConfig = config.targets[target] else { return nil }  // reported for the rule
        guard let action = targetConfig.action(named: actionName) else {
            if let kinds = config.actionKinds[actionName] {
                actionNode.report("\"\(actionName)\" is not an action of target \(target) (kind \(targetConfig.kind)); "
                                  + "kinds that have it: \(kinds.sorted().joined(separator: ", "))")
            } else {
                let known = targetConfig.actions.map(\.name)
                let hint = Spelling.suggestion(for: actionName, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""
                actionNode.report("unknown value \"\(actionName)\"\(hint); expected one of \(known.map { "\"\($0)\"" }.joined(separator: ", "))")
            }
            return nil
        }
        guard let o = node.object(allowed: ["id", "action", "target"] + action.fields) else { return nil }
        for field in action.requiredFields where !o.has(field) {
            o.report("\(action.name) needs \"\(field)\"")
        }
        // Step id: explicit, or its index.
        var id = String(index)
        if let n = o.node("id"), let text = n.string() {
            if !text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
                n.report("step id \"\(text)\" must be letters, digits, \"_\" or \"-\"")
            } else if earlier.contains(where: { $0.id == text }) {
                n.report("duplicate step id \"\(text)\"")
            } else {
                id = text
            }
        } else if earlier.contains(where: { $0.id == id }) {
            o.report("an earlier step has the id \"\(id)\", which is this step's default id; give this step an \"id\"")
        }
        let earlierIds = earlier.map(\.id)
        var values: [String: StepSpec.Value] = [:]
        for field in action.fields where field != "task" && field != "link" {
            guard let n = o.node(field) else { continue }
            if let v = parseValue(n, field: field, action: action, scope: scope, earlierIds: earlierIds) { values[field] = v }
        }
        if !action.atLeastOneOf.isEmpty && !values.keys.contains(where: action.atLeastOneOf.contains) && sink.diagnostics.count == before {
            o.report("\(action.name) needs at least one of \(action.atLeastOneOf.joined(separator: ", "))")
        }
        var task: StepSpec.TaskReference?
        if let n = o.node("task"), let t = n.object(allowed: ["id", "link", "step"]) {
            let given = ["id", "link", "step"].filter { t.has($0) }
            if given.count != 1 {
                t.report("give exactly one of \"id\", \"link\" or \"step\"")
            } else if let ref = t.node(given[0]), let text = ref.string() {
                switch given[0] {
                case "id": task = parseTemplate(text, at: ref, scope: scope, allowSteps: true, earlierSteps: earlierIds).map { .id($0) }
                case "link": task = parseTemplate(text, at: ref, scope: scope, allowSteps: true, earlierSteps: earlierIds).map { .link($0) }
                default:
                    if earlierIds.contains(text) {
                        task = .step(text)
                    } else {
                        ref.report("no earlier step has id \"\(text)\"\(earlierIds.isEmpty ? "" : "; earlier steps: \(earlierIds.joined(separator: ", "))")")
                    }
                }
            }
        } else if action.needsTask && !o.has("task") && earlier.isEmpty {
            o.report("\(action.name) needs \"task\": {\"id\": …}, {\"link\": …} or {\"step\": …} (no earlier step provides one)")
        }
        var link: StepSpec.LinkSpec?
        if let n = o.node("link") {
            if case .string(let text) = n.value {
                if text.isEmpty {
                    n.report("must not be empty")
                } else if let key = parseTemplate(text, at: n, scope: scope, allowSteps: true, earlierSteps: earlierIds) {
                    link = StepSpec.LinkSpec(key: key, ifExists: .skip)
                }
            } else if let l = n.object(allowed: action.createsTask ? ["key", "ifExists"] : ["key"]) {
                let ifExists = l.node("ifExists")?.oneOf(StepSpec.IfLinked.allCases.map { ($0.rawValue, $0) }) ?? .skip
                if let k = l.required("key"), let text = k.string(),
                   let key = parseTemplate(text, at: k, scope: scope, allowSteps: true, earlierSteps: earlierIds) {
                    link = StepSpec.LinkSpec(key: key, ifExists: ifExists)
                }
            }
        }
        guard sink.diagnostics.count == before else { return nil }
        return StepSpec(id: id, action: action, target: target, task: task, values: values, link: link, location: node.path)
    }

    /// A field's value as the action declares it; `field` is `name`, or `name.key` for a
    /// key of an object-valued field (``ActionSpec/objectFields``), whose own values are
    /// templates or numbers.
    func parseValue(_ n: JSONNode, field: String, action: ActionSpec, scope: Scope, earlierIds: [String]) -> StepSpec.Value? {
        let keys = field.contains(".") ? nil : action.objectFields[field]
        switch n.value {
        case .string(let text) where keys == nil:
            if text.isEmpty && action.nonEmptyFields.contains(field) {
                n.report("must not be empty")
                return nil
            }
            guard let t = parseTemplate(text, at: n, scope: scope, allowSteps: true, earlierSteps: earlierIds) else { return nil }
            if let allowed = action.choices[field], !text.contains("{{"), !allowed.contains(text) {
                let hint = Spelling.suggestion(for: text, among: allowed).map { " (did you mean \"\($0)\"?)" } ?? ""
                n.report("unknown value \"\(text)\"\(hint); expected one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", "))")
                return nil
            }
            return .template(t)
        case .number(let v) where action.numericFields.contains(field):
            return .number(v)
        case .bool(let b) where action.booleanFields.contains(field):
            return .bool(b)
        case .null where action.nullableFields.contains(field):
            return .null
        case .object where keys != nil:
            guard let object = n.object(allowed: keys ?? []) else { return nil }
            var members: [String: StepSpec.Value] = [:]
            var complete = true
            for key in keys ?? [] {
                guard let member = object.node(key) else { continue }
                if let v = parseValue(member, field: field + "." + key, action: action, scope: scope, earlierIds: earlierIds) {
                    members[key] = v
                } else {
                    complete = false
                }
            }
            return complete ? .object(members) : nil
        default:
            let expected = keys != nil ? "an object (keys \(keys?.joined(separator: ", ") ?? ""))"
                : action.numericFields.contains(field) ? "a number or a template string"
                : action.booleanFields.contains(field) ? "true, false or a template string" : "a template string"
            n.report("expected \(expected), found \(n.value.typeName)")
            return nil
        }
    }
}
