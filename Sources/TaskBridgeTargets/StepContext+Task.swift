import TaskBridgeCore

extension StepContext {
    /// The task `key` is linked to; a store that cannot be read is a retryable failure.
    public func linkedTask(_ key: String) async throws(StepFailure) -> LinkedTask? {
        do {
            return try await lookupLink(key)
        } catch {
            throw StepFailure(.retryable, "cannot read link \"\(key)\": \(error)")
        }
    }

    /// The task a step acts on: the id it names, or the task its link key points to (with
    /// the project the link recorded). A missing link is permanent.
    public func task(of step: RenderedStep, target: String) async throws(StepFailure) -> LinkedTask {
        switch step.task {
        case .id(let id)?: return LinkedTask(taskId: id, projectId: nil)
        case .link(let key)?:
            guard let linked = try await linkedTask(key) else {
                throw StepFailure.permanent("no task is linked to \"\(key)\" at target \(target)")
            }
            return linked
        case nil:
            throw StepFailure.permanent("\(step.action.name) has no task to act on")
        }
    }
}
