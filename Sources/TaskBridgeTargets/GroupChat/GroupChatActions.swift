import TaskBridgeCore

/// GroupChat's actions by name, for code and tests that build steps directly.
extension ActionSpec {
    public static var taskCreate: ActionSpec { GroupChatKind.action("task.create") }
    public static var taskUpdate: ActionSpec { GroupChatKind.action("task.update") }
    public static var taskMove: ActionSpec { GroupChatKind.action("task.move") }
    public static var taskComplete: ActionSpec { GroupChatKind.action("task.complete") }
    public static var taskReopen: ActionSpec { GroupChatKind.action("task.reopen") }
    public static var taskAssign: ActionSpec { GroupChatKind.action("task.assign") }
    public static var taskUnassign: ActionSpec { GroupChatKind.action("task.unassign") }
    public static var agentDelegate: ActionSpec { GroupChatKind.action("agent.delegate") }
}

extension GroupChatKind {
    static let byName = Dictionary(GroupChatKind().actions.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

    static func action(_ name: String) -> ActionSpec {
        byName[name] ?? ActionSpec(name, fields: [], needsTask: false)
    }
}
