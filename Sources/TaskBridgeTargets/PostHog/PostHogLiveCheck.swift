import TaskBridgeCore

/// `taskbridge check --live` for a PostHog project, read-only: the key and the project
/// (`GET …/tasks/?limit=1`; `401` a bad key, `403` a missing `task:read` scope, `404` a
/// project the key cannot reach), then every task a step names by a literal id, and the
/// form of every literal `repository`. A literal `github_integration` cannot be checked
/// with the task scopes alone.
extension PostHogConnector {
    public func liveCheck(_ steps: [LiveCheckStep]) async -> [Diagnostic] {
        var wire: [WireRecord] = []
        do throws(StepFailure) {
            _ = try await call(.listTasks, query: [("limit", "1")], &wire)
        } catch {
            let hint = error.status == 404 ? " (is projectId \(projectId) a project this key can reach?)" : ""
            return [Diagnostic(file: "", path: "targets.\(target)", message: "cannot read PostHog project \(projectId): \(error.reason)\(hint)")]
        }
        var out: [Diagnostic] = []
        var known: [String: String?] = [:]  // task id → problem (nil: fine)
        for s in steps {
            if let repository = s.literal("repository"), !Self.isRepository(repository) {
                out.append(s.problem("repository", "repository \"\(repository)\" is not \"organization/repository\""))
            }
            guard case .id(let template)? = s.step.task, let id = template.literalText else { continue }
            if known[id] == nil {
                do throws(StepFailure) {
                    _ = try await call(.getTask(id), &wire)
                    known[id] = .some(nil)
                } catch {
                    known[id] = .some(error.status == 404 ? "task \"\(id)\" not found in PostHog project \(projectId) (or not visible to this key)"
                                      : "task \"\(id)\" cannot be checked: \(error.reason)")
                }
            }
            if case .some(.some(let message)) = known[id] { out.append(s.problem("task.id", message)) }
        }
        return out
    }

    /// PostHog's rule: exactly two non-empty parts around one `/`.
    static func isRepository(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty }
    }
}
