import TaskBridgeCore

/// `taskbridge check --live` for a PostHog project: one read of its task list proves
/// the key works, has `task:read`, and that the project exists. (PostHog names nothing
/// else a rule could misspell: a repository is checked by PostHog when a task is made.)
extension PostHogConnector {
    public func liveCheck(_ steps: [LiveCheckStep]) async -> [Diagnostic] {
        let answer: GatedHTTP.Answer
        do throws(StepFailure) {
            answer = try await transport.send(PostHogRequest(.listTasks, projectId: projectId, query: [("limit", "1")]))
        } catch {
            return [Diagnostic(file: "", path: "targets.\(target)", message: "cannot reach PostHog: \(error.reason)")]
        }
        switch answer.status {
        case 200..<300:
            return []
        case 401, 403:
            return [Diagnostic(file: "", path: "targets.\(target).token",
                               message: "PostHog refused the key (\(answer.status): \(PostHogAnswers.errorMessage(answer))); it needs task:read and task:write")]
        case 404:
            return [Diagnostic(file: "", path: "targets.\(target).projectId", message: "project \(projectId) not found (or not visible to the key)")]
        default:
            return [Diagnostic(file: "", path: "targets.\(target)",
                               message: "GET /api/projects/\(projectId)/tasks/ answered \(answer.status): \(PostHogAnswers.errorMessage(answer))")]
        }
    }
}
