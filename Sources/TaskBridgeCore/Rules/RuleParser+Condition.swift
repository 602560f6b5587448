extension RuleParser {
    func parseCondition(_ node: JSONNode, scope: inout Scope) -> Condition? {
        // Named groups anywhere in `when` may be referenced by `captures.<name>`.
        scope.captureNames.formUnion(Self.captureNames(in: node.value))
        return parseConditionNode(node, scope: scope)
    }

    /// Named groups of `matches` tests that can capture: those under a `not` never
    /// hold a value (a negated test that passes did not match).
    static func captureNames(in value: JSONValue) -> [String] {
        switch value {
        case .object(let members):
            var names: [String] = []
            if case .string(let pattern)? = members["matches"] { names += PatternMatcher.namedGroups(in: pattern) }
            for (k, v) in members where k != "not" { names += captureNames(in: v) }
            return names
        case .array(let items): return items.flatMap(captureNames(in:))
        default: return []
        }
    }

    private func parseConditionNode(_ node: JSONNode, scope: Scope) -> Condition? {
        guard case .object(let members) = node.value else {
            node.report("expected a condition object ({\"all\": […]}, {\"any\": […]}, {\"not\": {…}} or {\"path\": …, \"<operator>\": …}), found \(node.value.typeName)")
            return nil
        }
        let groupKeys = ["all", "any", "not"].filter { members[$0] != nil }
        if let group = groupKeys.first {
            guard let o = node.object(allowed: [group]) else { return nil }
            if groupKeys.count > 1 { o.report("use one of \"all\", \"any\" or \"not\" per object; nest them instead") }
            let child = o.node(group)!
            if group == "not" {
                return parseConditionNode(child, scope: scope).map { .not($0, at: child.path) }
            }
            guard let items = child.array() else { return nil }
            if items.isEmpty { child.report("\"\(group)\" needs at least one condition") }
            let parsed = items.map { parseConditionNode($0, scope: scope) }
            guard parsed.allSatisfy({ $0 != nil }) else { return nil }
            let list = parsed.compactMap { $0 }
            return group == "all" ? .all(list, at: child.path) : .any(list, at: child.path)
        }
        return parseTest(node, members: members, scope: scope)
    }

    private func parseTest(_ node: JSONNode, members: [String: JSONValue], scope: Scope) -> Condition? {
        var ok = true
        for key in members.keys.sorted() where key != "path" && key != "ignoreCase" && !Condition.operators.contains(key) {
            let hint = Spelling.suggestion(for: key, among: Condition.operators + ["all", "any", "not", "path", "ignoreCase"])
                .map { " (did you mean \"\($0)\"?)" } ?? ""
            node.sink.report(PathText.child(node.path, key), "unknown operator \"\(key)\"\(hint)")
            ok = false
        }
        let o = JSONObjectNode(members: members, path: node.path, sink: node.sink)
        guard let pathNode = o.required("path"), let pathText = pathNode.string() else { return nil }
        let ops = Condition.operators.filter { members[$0] != nil }
        guard ops.count == 1, ok else {
            if ok {
                node.report(ops.isEmpty ? "missing an operator; one of \(Condition.operators.joined(separator: ", "))"
                                        : "one operator per test, found \(ops.joined(separator: ", ")); combine tests with \"all\"")
            }
            return nil
        }
        guard let path = parsePath(pathText, at: pathNode, scope: scope, allowSteps: false) else { return nil }
        let opName = ops[0]
        let opNode = o.node(opName)!
        let ignoreCase = o.bool("ignoreCase") ?? false

        func operand(_ kind: String? = nil) -> FieldTest.Operand? {
            if case .object(let m) = opNode.value, m.count == 1, m["path"] != nil {
                let refNode = JSONNode(value: m["path"]!, path: PathText.child(opNode.path, "path"), sink: node.sink)
                guard let text = refNode.string() else { return nil }
                return parsePath(text, at: refNode, scope: scope, allowSteps: false).map(FieldTest.Operand.path)
            }
            switch (kind, opNode.value) {
            case ("string", .string), ("number", .number), (nil, _): return .literal(opNode.value)
            case ("scalar", .string), ("scalar", .number), ("scalar", .bool): return .literal(opNode.value)
            default:
                opNode.report("\(opName) needs a \(kind == "scalar" ? "string, number or boolean" : kind!) or {\"path\": \"…\"}, found \(opNode.value.typeName)")
                return nil
            }
        }

        let op: FieldTest.Operator
        switch opName {
        case "equals": guard let v = operand() else { return nil }; op = .equals(v)
        case "notEquals": guard let v = operand() else { return nil }; op = .notEquals(v)
        case "in":
            guard let items = opNode.array() else { return nil }
            if items.isEmpty { opNode.report("\"in\" needs at least one value") }
            op = .isIn(items.map(\.value))
        case "exists":
            guard let b = opNode.bool() else { return nil }
            op = .exists(b)
        case "contains": guard let v = operand("scalar") else { return nil }; op = .contains(v)
        case "startsWith": guard let v = operand("string") else { return nil }; op = .startsWith(v)
        case "endsWith": guard let v = operand("string") else { return nil }; op = .endsWith(v)
        case "matches":
            guard let pattern = opNode.string() else { return nil }
            do {
                op = .matches(try PatternMatcher(pattern))
            } catch {
                opNode.report("invalid regular expression \"\(pattern)\": \(error)")
                return nil
            }
        case "gt", "gte":
            guard let v = operand("number") else { return nil }
            op = .greater(v, orEqual: opName == "gte")
        default:
            guard let v = operand("number") else { return nil }
            op = .less(v, orEqual: opName == "lte")
        }
        return .test(FieldTest(path: path, op: op, ignoreCase: ignoreCase, location: node.path))
    }
}
