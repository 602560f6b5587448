import TaskBridgeCore

/// Turns names into GroupChat ids. The live ``GroupChatDirectory`` asks the API;
/// ``SymbolicNames`` (dry runs) answers with readable placeholders and asks nothing.
public protocol GroupChatNameResolver: Sendable {
    func projectId(_ ref: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord])
    func stageId(_ ref: String, projectId: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord])
    func ownerId(_ ref: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord])
    func agentUserId(_ ref: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord])
    func knownProject(ofTask taskId: String) async -> String?
    func remember(task: JSONValue?) async
}

extension GroupChatDirectory: GroupChatNameResolver {}

/// Placeholders such as `<stage "in_review" of project <project "Engineering">>` —
/// what a dry run prints where a live run would send an id.
public struct SymbolicNames: GroupChatNameResolver {
    public init() {}

    public func projectId(_ ref: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord]) {
        ("<project \"\(ref)\">", wire)
    }

    public func stageId(_ ref: String, projectId: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord]) {
        ("<stage \"\(ref)\" of \(projectId)>", wire)
    }

    public func ownerId(_ ref: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord]) {
        ("<member \"\(ref)\">", wire)
    }

    public func agentUserId(_ ref: String, wire: [WireRecord]) async throws(StepFailure) -> (String, [WireRecord]) {
        ("<agent \"\(ref)\">", wire)
    }

    public func knownProject(ofTask taskId: String) async -> String? {
        "<project of task \(taskId)>"
    }

    public func remember(task: JSONValue?) async {}
}
