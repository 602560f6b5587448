import TaskBridgeCore

/// `posthog.task.run`: starts an agent run (`POST …/tasks/{id}/run/`) and, with
/// `"wait": {"until": "finished", "maxMinutes": N}`, follows it to the end.
///
/// The step's wait state (``StepContext/waitState``) says where it is:
/// 1. none: read the task and save its `latest_run` id — `{"phase": "start", "task", "before"}`
///    — then wait a moment (durably), so the send below can be reconciled;
/// 2. `start`: send `run` (or, when the last attempt's outcome is unknown, adopt the run
///    it started: a `latest_run` other than `before`). Without `wait` the step succeeds with
///    the run as PostHog answered it (`queued`); with `wait` it waits,
///    `{"phase": "poll", "task", "run", "startedAt", "polls", "summary"}` (and, after a poll,
///    the run's `status`, `branch` and `pr_url` so far);
/// 3. `poll`: read the run (`GET …/runs/{run_id}/`, so a later run on the same task does
///    not confuse it) until it is completed, failed or cancelled, on ``PollSchedule``;
///    past `maxMinutes` from `startedAt` the step fails permanently.
///
/// Outputs: `task` (id, number, slug, title), `run` (PostHog's run), and from it `status`,
/// `branch` (the branch checked out for the run, not necessarily the PR's), `pr_url`
/// (`output.pr_url`), `error_message` and `output`; so `{{ steps.<id>.pr_url }}` and
/// `{{ steps.<id>.output.pr_url }}` both read the pull request. A failed or cancelled run
/// is a permanent failure carrying PostHog's `error_message`.
extension PostHogConnector {
    static let terminal: Set<String> = ["completed", "failed", "cancelled"]
    /// A week: `wait.maxMinutes` above it is refused.
    static let maxWaitMinutes = 10_080.0

    /// The step's `wait`, or nil when it has none (`null` included).
    func waitMinutes(_ value: JSONValue?) throws(StepFailure) -> Double? {
        guard case .object(let o)? = value else { return nil }
        if let until = o["until"], until.stringValue != "finished" {
            throw StepFailure.permanent("wait.until must be \"finished\", not \(until.textValue.prefix(40))")
        }
        let minutes = o["maxMinutes"]?.numberValue ?? Self.defaultMaxMinutes
        guard minutes > 0, minutes <= Self.maxWaitMinutes else {
            throw StepFailure.permanent("wait.maxMinutes must be more than 0 and at most \(Int(Self.maxWaitMinutes)) (a week), not \(minutes)")
        }
        return minutes
    }

    func run(_ step: RenderedStep, _ ctx: StepContext, _ wire: inout [WireRecord]) async throws(StepFailure) -> StepResult.Outcome {
        let wait = try waitMinutes(step.values["wait"])
        let state = ctx.waitState?.objectValue ?? [:]
        switch (state["phase"]?.stringValue, state["task"]?.stringValue) {
        case ("poll"?, let taskId?):
            return try await follow(step, taskId: taskId, state: state, maxMinutes: wait ?? Self.defaultMaxMinutes, &wire)
        case ("start"?, let taskId?):
            return try await start(step, ctx, taskId: taskId, before: state["before"]?.stringValue, wait: wait, &wire)
        default:
            let taskId = try await ctx.task(of: step, target: target).taskId
            let task = try await call(.getTask(taskId), &wire)
            return .wait(seconds: 0, state: ["phase": "start", "task": .string(taskId), "before": task["latest_run"]?["id"] ?? .null])
        }
    }

    private func start(_ step: RenderedStep, _ ctx: StepContext, taskId: String, before: String?, wait: Double?,
                       _ wire: inout [WireRecord]) async throws(StepFailure) -> StepResult.Outcome {
        if ctx.uncertain {
            let task = try await call(.getTask(taskId), &wire)
            if let latest = task["latest_run"], let id = latest["id"]?.stringValue, id != before {
                return try started(step, taskId: taskId, task: task, run: latest, wait: wait)
            }
        }
        var body: [String: JSONValue] = [:]
        if let mode = step.values["mode"] { body["mode"] = mode }
        let request = PostHogRequest(.runTask(taskId), projectId: projectId, body: .object(body))
        let task = try await transport.call(request, wire: &wire, now: wallClock()).json ?? .null
        guard let run = task["latest_run"], run["id"]?.stringValue != nil else {
            // A run may have started: the retry reconciles (it is marked as sent).
            throw StepFailure(.retryable, "\(request.method) \(request.path) answered without the task's latest_run", sent: true)
        }
        return try started(step, taskId: taskId, task: task, run: run, wait: wait)
    }

    private func started(_ step: RenderedStep, taskId: String, task: JSONValue, run: JSONValue,
                         wait: Double?) throws(StepFailure) -> StepResult.Outcome {
        var summary = Self.summary(task)
        if summary["id"] == nil, case .object(var o) = summary {
            o["id"] = .string(taskId)
            summary = .object(o)
        }
        guard let minutes = wait, !Self.terminal.contains(run["status"]?.stringValue ?? "") else {
            return try finish(step, taskId: taskId, summary: summary, run: run, waited: wait != nil)
        }
        let now = wallClock()
        return .wait(seconds: min(poll.interval(afterPolls: 0), minutes * 60),
                     state: ["phase": "poll", "task": .string(taskId), "run": run["id"] ?? .null, "startedAt": .number(now),
                             "polls": 0, "summary": summary, "status": run["status"] ?? .null])
    }

    private func follow(_ step: RenderedStep, taskId: String, state: [String: JSONValue], maxMinutes: Double,
                        _ wire: inout [WireRecord]) async throws(StepFailure) -> StepResult.Outcome {
        guard let runId = state["run"]?.stringValue else {
            throw StepFailure.permanent("the saved wait state names no run to follow: \(JSONWriter.serialize(.object(state)).prefix(200))")
        }
        let run = try await call(.getRun(task: taskId, run: runId), &wire)
        let summary = state["summary"] ?? ["id": .string(taskId)]
        let status = run["status"]?.stringValue ?? "unknown"
        if Self.terminal.contains(status) {
            return try finish(step, taskId: taskId, summary: summary, run: run, waited: true)
        }
        let now = wallClock()
        let deadline = (state["startedAt"]?.numberValue ?? now) + maxMinutes * 60
        guard now < deadline else {
            throw StepFailure.permanent("PostHog run \(runId) of task \(taskId) is still \(status) after \(JSONWriter.format(number: maxMinutes)) "
                                        + "minutes (wait.maxMinutes); it may still finish in PostHog, but this step stops waiting")
        }
        let polls = Int(state["polls"]?.numberValue ?? 0) + 1
        var next = state
        next["polls"] = .number(Double(polls))
        // What the run shows so far, for whoever follows it (the agent runner's comments).
        next["status"] = .string(status)
        next["branch"] = run["branch"] ?? .null
        next["pr_url"] = run["output"]?["pr_url"] ?? .null
        return .wait(seconds: min(poll.interval(afterPolls: polls), max(0.05, deadline - now)), state: .object(next))
    }

    private func finish(_ step: RenderedStep, taskId: String, summary: JSONValue, run: JSONValue,
                        waited: Bool) throws(StepFailure) -> StepResult.Outcome {
        let status = run["status"]?.stringValue ?? "unknown"
        if waited {
            let runId = run["id"]?.stringValue ?? "?"
            switch status {
            case "failed":
                let message = run["error_message"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "(PostHog gave no error message)"
                throw StepFailure.permanent("PostHog run \(runId) of task \(taskId) failed: \(message)")
            case "cancelled":
                throw StepFailure.permanent("PostHog run \(runId) of task \(taskId) was cancelled")
            default: break
            }
        }
        let output: JSONValue = [
            "task": summary, "run": run, "status": .string(status), "branch": run["branch"] ?? .null,
            "pr_url": run["output"]?["pr_url"] ?? .null, "error_message": run["error_message"] ?? .null, "output": run["output"] ?? .null,
        ]
        return .success(output: output, link: step.linkKey.map { (key: $0, taskId: taskId, projectId: nil) })
    }
}
