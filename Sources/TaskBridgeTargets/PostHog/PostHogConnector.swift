import TaskBridgeCore

/// Executes rendered steps against one PostHog project: creates and updates tasks, starts
/// runs and follows them to the end when the step says `wait`.
///
/// **Exactly once.** PostHog honours no idempotency key, and every `run` call starts a new
/// (paid) agent run, so neither a create nor a run is ever re-sent blindly:
/// - a created task's description ends with the hidden marker
///   `<!-- taskbridge:<idempotencyKey> -->`; a create whose previous attempt may have
///   reached PostHog first lists `?search=<marker>&internal=all&archived=all` and adopts
///   the (oldest) task whose description holds the whole marker;
/// - a run is started in two steps: the first execution reads the task and saves its
///   `latest_run` id as the step's wait state (the job waits a moment, durably), the next
///   one sends `POST …/run/`. When that send's outcome is unknown, the retry reads the task
///   again: a `latest_run` other than the saved one is the run the lost attempt started,
///   and it is adopted instead of starting another. (A run someone else starts on the same
///   task in between would be adopted too.)
public struct PostHogConnector: TargetConnector {
    public let target: String
    let projectId: String
    let transport: any PostHogTransport
    let poll: PollSchedule
    let wallClock: @Sendable () -> Double
    /// The live transport, whose token a reload may replace, and the config it is read from.
    var live: HTTPPostHogTransport?
    var config: TargetConfig?

    /// How long a `wait` follows a run when it names no `maxMinutes`.
    public static let defaultMaxMinutes = 60.0
    /// The task fields a job keeps when no later step reads more.
    public static let taskSummaryKeys = ["id", "task_number", "slug", "title"]

    public init(target: String, projectId: String, transport: any PostHogTransport, poll: PollSchedule = PollSchedule(),
                wallClock: @escaping @Sendable () -> Double) {
        self.target = target
        self.projectId = projectId
        self.transport = transport
        self.poll = poll
        self.wallClock = wallClock
    }

    /// The marker hidden (as an HTML comment) at the end of descriptions of tasks the
    /// bridge creates. PostHog passes the description to the agent as its prompt, so the
    /// agent sees it too.
    public static func marker(_ key: String) -> String { "<!-- taskbridge:\(key) -->" }

    public func compact(_ output: JSONValue) -> JSONValue {
        guard case .object(var o) = output else { return output }
        if let task = o["task"] { o["task"] = Self.summary(task) }
        if let run = o["run"] {
            var kept: [String: JSONValue] = [:]
            for key in ["id", "status"] { kept[key] = run[key] }
            if let pr = run["output"]?["pr_url"] { kept["pr_url"] = pr }
            o["run"] = .object(kept)
        }
        for key in ["branch", "error_message", "output"] { o[key] = nil }
        return .object(o)
    }

    static func summary(_ task: JSONValue) -> JSONValue {
        var kept: [String: JSONValue] = [:]
        for key in taskSummaryKeys { kept[key] = task[key] }
        return .object(kept)
    }

    public func reloadCredentials(secrets: SecretResolver) -> Bool {
        guard let live, let config, let token = try? config.resolveToken(secrets) else { return false }
        return live.replaceToken(token)
    }

    public func execute(_ step: RenderedStep, context: StepContext) async -> StepResult {
        var wire: [WireRecord] = []
        do throws(StepFailure) {
            let outcome: StepResult.Outcome
            switch step.action.name {
            case "posthog.task.create": outcome = try await create(step, context, &wire)
            case "posthog.task.update": outcome = try await update(step, context, &wire)
            case "posthog.task.run": outcome = try await run(step, context, &wire)
            default: throw StepFailure.permanent("target \(target) (posthog) has no action \(step.action.name)")
            }
            return StepResult(outcome: outcome, wire: wire)
        } catch {
            return StepResult(outcome: .failure(error), wire: wire)
        }
    }

    func call(_ operation: PostHogRequest.Operation, query: [(String, String)] = [], body: JSONValue? = nil,
              _ wire: inout [WireRecord]) async throws(StepFailure) -> JSONValue {
        let response = try await transport.call(PostHogRequest(operation, projectId: projectId, query: query, body: body),
                                                wire: &wire, now: wallClock())
        return response.json ?? .object([:])
    }

    // MARK: - Tasks

    private func create(_ step: RenderedStep, _ ctx: StepContext, _ wire: inout [WireRecord]) async throws(StepFailure) -> StepResult.Outcome {
        if let key = step.linkKey, let linked = try await ctx.linkedTask(key) {
            var task: JSONValue = ["id": .string(linked.taskId)]
            if step.ifLinked != .skip {
                var fields = taskFields(step)
                // PostHog tasks are not completed, only archived: reopening brings one back.
                if step.ifLinked == .reopen { fields["archived"] = false }
                if !fields.isEmpty { task = try await call(.updateTask(linked.taskId), body: .object(fields), &wire) }
            }
            return .success(output: ["task": task, "created": false], link: nil)
        }
        let marker = Self.marker(ctx.idempotencyKey)
        let link = { (task: JSONValue) in step.linkKey.map { (key: $0, taskId: task["id"]?.stringValue ?? "", projectId: String?.none) } }
        if ctx.uncertain, let existing = try await findCreated(marker: marker, &wire) {
            return .success(output: ["task": existing, "created": true, "reconciled": true], link: link(existing))
        }
        var body = taskFields(step)
        let description = step.values["description"]?.stringValue ?? ""
        body["description"] = .string(description.isEmpty ? marker : description + "\n\n" + marker)
        if let product = step.values["origin_product"] { body["origin_product"] = product }
        if let integration = step.values["github_integration"]?.numberValue {
            guard integration == integration.rounded(), abs(integration) < 1e15 else {
                throw StepFailure.permanent("github_integration must be the whole-number id of the project's GitHub integration, not \(integration)")
            }
            body["github_integration"] = .number(integration)
        }
        let task = try await call(.createTask, body: .object(body), &wire)
        guard task["id"]?.stringValue != nil else {
            throw StepFailure(.retryable, "POST \(PostHogRequest(.createTask, projectId: projectId).path) answered without a task id", sent: true)
        }
        return .success(output: ["task": task, "created": true], link: link(task))
    }

    /// The task a possibly-sent create made: the oldest whose description holds the whole
    /// marker (`search` is a substring match that may also hit a task number).
    private func findCreated(marker: String, _ wire: inout [WireRecord]) async throws(StepFailure) -> JSONValue? {
        let page = try await call(.listTasks, query: [("archived", "all"), ("internal", "all"), ("limit", "100"), ("search", marker)], &wire)
        let matches = (page["results"]?.arrayValue ?? []).filter { $0["description"]?.stringValue?.contains(marker) == true }
        return matches.last  // newest first
    }

    private func update(_ step: RenderedStep, _ ctx: StepContext, _ wire: inout [WireRecord]) async throws(StepFailure) -> StepResult.Outcome {
        let taskId = try await ctx.task(of: step, target: target).taskId
        let task = try await call(.updateTask(taskId), body: .object(taskFields(step)), &wire)
        return .success(output: ["task": task], link: step.linkKey.map { ($0, taskId, nil) })
    }

    /// `title`, `description`, `repository` as rendered (`null` clears a repository).
    private func taskFields(_ step: RenderedStep) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        for key in PostHogKind.taskFields { if let v = step.values[key] { fields[key] = v } }
        return fields
    }
}
