import TaskBridgeCore

/// The parser half of the target kinds, for ConfigParser and RuleParser.
///
/// The real kinds live in TaskBridgeTargets next to their connectors; depending on it
/// would build SwiftNIO and AsyncHTTPClient with the sanitizers for nothing but these
/// declarations, so the harnesses carry a copy of GroupChat's (GroupChatKind.swift). If
/// it drifts, harness setup stops loudly: the shipped config and example rules must parse.
public struct FuzzGroupChatKind: TargetKindParser {
    public init() {}

    public let kind = "groupchat"
    public let defaultBaseURL = "https://groupchat.ai"
    public let settingKeys = ["workspaceId", "defaultProject", "batch", "directoryCacheSeconds"]

    static let updateFields = ["title", "description", "owner", "dueDate", "dueTime", "estimate"]
    static let numeric: Set<String> = ["dueDate", "dueTime", "estimate"]
    static let names: Set<String> = ["title", "stage", "owner", "agent", "project"]

    public let actions: [ActionSpec] = [
        ActionSpec("task.create", fields: ["project", "stage", "title", "description", "owner", "dueDate", "dueTime", "estimate", "link"],
                   required: ["title"], numeric: numeric, nonEmpty: names, needsTask: false, createsTask: true),
        ActionSpec("task.update", fields: ["task", "title", "description", "owner", "dueDate", "dueTime", "estimate", "project", "link"],
                   numeric: numeric, nonEmpty: names, nullable: ["description", "dueDate", "dueTime", "estimate", "owner"],
                   atLeastOneOf: updateFields, needsTask: true, batchable: true),
        ActionSpec("task.move", fields: ["task", "stage", "project", "link"], required: ["stage"], nonEmpty: names, needsTask: true,
                   batchable: true),
        ActionSpec("task.complete", fields: ["task", "link"], needsTask: true, batchable: true),
        ActionSpec("task.reopen", fields: ["task", "link"], needsTask: true, batchable: true),
        ActionSpec("task.assign", fields: ["task", "owner", "link"], required: ["owner"], nonEmpty: names, needsTask: true, batchable: true),
        ActionSpec("task.unassign", fields: ["task", "link"], needsTask: true, batchable: true),
        ActionSpec("agent.delegate", fields: ["task", "agent", "prompt", "link"], required: ["agent"], nonEmpty: names, needsTask: true),
    ]

    public func readSettings(_ o: JSONObjectNode) -> any TargetSettings {
        if let n = o.node("workspaceId") { _ = StringSetting.read(n) }
        _ = o.string("defaultProject")
        if let n = o.node("batch"), let b = n.object(allowed: ["enabled", "maxOperations"]) {
            _ = b.bool("enabled")
            _ = b.int("maxOperations", in: 1...200)
        }
        _ = o.double("directoryCacheSeconds", in: 0...86_400)
        return NoTargetSettings()
    }
}
