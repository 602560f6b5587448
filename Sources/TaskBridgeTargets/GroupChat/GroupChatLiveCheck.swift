import TaskBridgeCore

/// `taskbridge check --live` for a GroupChat workspace: the token, then every project,
/// stage, member and agent a rule names literally — each must match exactly one thing,
/// or the rule would dead-letter on its first event.
extension GroupChatConnector {
    public func liveCheck(_ steps: [LiveCheckStep]) async -> [Diagnostic] {
        var wire: [WireRecord] = []
        let lists: [GroupChatDirectory.Kind: [JSONValue]]
        do throws(StepFailure) {
            var fetched: [GroupChatDirectory.Kind: [JSONValue]] = [:]
            for kind in GroupChatDirectory.Kind.allCases {
                let response = try await transport.call(GroupChatRequest(method: "GET", path: "/api/v1/" + kind.rawValue),
                                                        wire: &wire, now: wallClock())
                fetched[kind] = GroupChatNames.items(response.json, key: kind.rawValue) ?? []
            }
            lists = fetched
        } catch {
            // The file is the config's: the caller knows it.
            return [Diagnostic(file: "", path: "targets.\(target)", message: "cannot read the workspace: \(error.reason)")]
        }
        let projects = lists[.projects] ?? []
        var problems: [Diagnostic] = []
        func check(_ match: GroupChatNames.Match, _ what: String, _ ref: String, scope: String = "") -> JSONValue? {
            switch match {
            case .found(let v): return v
            case .notFound(let known):
                let shown = known.prefix(12).joined(separator: ", ")
                problems.append(Diagnostic(file: "", path: "", message: "\(what) \"\(ref)\" not found\(scope) (has: \(shown.isEmpty ? "none" : shown))"))
            case .ambiguous(let ids):
                problems.append(Diagnostic(file: "", path: "", message: "\(what) \"\(ref)\" is ambiguous\(scope): it matches \(ids.joined(separator: ", ")); use an id"))
            }
            return nil
        }
        var out: [Diagnostic] = []
        for s in steps {
            func report(_ field: String) {
                for p in problems { out.append(s.problem(field, p.message)) }
                problems.removeAll()
            }
            var project: JSONValue?
            let projectRef = s.literal("project") ?? (s.step.action.createsTask && s.step.values["project"] == nil ? defaultProject : nil)
            if let ref = projectRef {
                project = check(GroupChatNames.project(ref, in: projects), "project", ref)
                report(s.step.values["project"] == nil ? "" : "project")
            }
            if let stage = s.literal("stage"), let project, let projectId = project["id"]?.stringValue {
                _ = check(GroupChatNames.stage(stage, projectId: projectId, in: lists[.statuses] ?? []), "stage", stage,
                          scope: " in project \(project["name"]?.stringValue ?? projectId)")
                report("stage")
            }
            if let owner = s.literal("owner") {
                _ = check(GroupChatNames.member(owner, in: lists[.members] ?? []), "member", owner)
                report("owner")
            }
            if let agent = s.literal("agent") {
                _ = check(GroupChatNames.agent(agent, in: lists[.agents] ?? []), "agent", agent)
                report("agent")
            }
        }
        return out
    }
}
