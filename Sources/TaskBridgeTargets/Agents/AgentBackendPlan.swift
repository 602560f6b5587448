import TaskBridgeCore

/// The backend steps that work one agent run, built from the run and the agent's
/// backend, and what each step's result tells the run record. Pure: the runner executes
/// these steps through the backend target's connector, with its idempotency and
/// reconciliation, exactly as a rule's steps are executed.
///
/// - PostHog: `posthog.task.create` (title and description from the run's task and
///   prompt, the configured repository and origin product), then `posthog.task.run`
///   waiting until the run finishes (at most `maxRunMinutes`).
/// - Zylon: one `zylon.chat` in the configured project with the prompt and the task as
///   context, waiting for the answer.
public struct AgentBackendPlan: Sendable {
    public let agent: AgentConfig

    public init(agent: AgentConfig) { self.agent = agent }

    public var stepCount: Int { agent.backend.kind == .posthog ? 2 : 1 }

    /// Stable per run, turn and step: a create or chat retried after a crash is found
    /// again (PostHog's marker) instead of being made twice.
    /// The record's discovery time is part of it: a run whose record retention removed
    /// and that comes back later gets new keys, and never adopts the old backend task.
    public static func idempotencyKey(_ r: AgentRunRecord, step: Int) -> String {
        "agent-run:\(r.runId):\(r.discoveredAtMillis):\(r.turn):\(step)"
    }

    /// PostHog caps task titles at 255 characters.
    static let maxTitle = 255

    /// The step to execute next, or why it cannot be built.
    public func step(_ index: Int, for r: AgentRunRecord) throws(StepFailure) -> RenderedStep {
        let b = agent.backend
        guard let kind = TargetKinds.named(b.kind.rawValue) else { throw .permanent("this build has no \(b.kind.rawValue) target kind") }
        func action(_ name: String) throws(StepFailure) -> ActionSpec {
            guard let a = kind.actions.first(where: { $0.name == name }) else { throw .permanent("\(b.kind.rawValue) has no action \(name)") }
            return a
        }
        switch (b.kind, index) {
        case (.posthog, 0):
            var title = r.taskTitle?.trimmingCharacters() ?? ""
            if title.isEmpty { title = String(r.prompt.trimmingCharacters().prefix(80)).trimmingCharacters() }
            if title.isEmpty { title = "GroupChat task \(r.taskId)" }
            var values: [String: JSONValue] = [
                "title": .string(String(title.prefix(Self.maxTitle))),
                "description": .string(context(r)),
                "origin_product": .string(b.originProduct),
            ]
            if let repo = b.repository { values["repository"] = .string(repo) }
            return RenderedStep(stepId: "task", action: try action("posthog.task.create"), target: b.target, values: values)
        case (.posthog, 1):
            guard let task = r.backend.taskId else { throw .permanent("the PostHog task to run is not recorded") }
            return RenderedStep(stepId: "run", action: try action("posthog.task.run"), target: b.target, task: .id(task),
                                values: ["wait": ["until": "finished", "maxMinutes": .number(agent.maxRunMinutes)]])
        case (.zylon, 0):
            var values: [String: JSONValue] = ["message": .string(context(r)), "maxMinutes": .number(min(agent.maxRunMinutes, 1_440))]
            if let project = b.project { values["project"] = .string(project) }
            return RenderedStep(stepId: "chat", action: try action("zylon.chat"), target: b.target, values: values)
        default:
            throw .permanent("no backend step \(index) for a \(b.kind.rawValue) backend")
        }
    }

    /// The prompt with the task around it: what the backend is asked to do.
    public func context(_ r: AgentRunRecord) -> String {
        var parts: [String] = []
        let prompt = r.prompt.trimmingCharacters()
        if !prompt.isEmpty { parts.append(prompt) }
        var task = "GroupChat task: " + (r.taskTitle ?? r.taskId)
        if let d = r.taskDescription?.trimmingCharacters(), !d.isEmpty { task += "\n\n" + d }
        parts.append(task)
        return parts.joined(separator: "\n\n---\n\n")
    }

    /// Takes what a step reported into the record: the PostHog task and run (status,
    /// branch, PR) or Zylon's answer and token usage.
    public func absorb(step index: Int, output: JSONValue?, waitState: JSONValue?, into r: inout AgentRunRecord) {
        if let w = waitState {
            if let task = w["task"]?.stringValue { r.backend.taskId = r.backend.taskId ?? task }
            if let run = w["run"]?.stringValue { r.backend.runId = run }
            if let status = w["status"]?.stringValue { r.backend.status = status }
            if let branch = w["branch"]?.stringValue, !branch.isEmpty { r.backend.branch = branch }
            if let pr = w["pr_url"]?.stringValue, !pr.isEmpty { r.backend.prURL = pr }
            if let slug = w["summary"]?["slug"]?.stringValue { r.backend.taskSlug = slug }
            if w["interaction"]?.stringValue != nil { r.backend.status = "Processing" }
        }
        guard let output else { return }
        if let task = output["task"] {
            if let id = task["id"]?.stringValue { r.backend.taskId = id }
            if let slug = task["slug"]?.stringValue { r.backend.taskSlug = slug }
        }
        if let run = output["run"] {
            if let id = run["id"]?.stringValue { r.backend.runId = id }
            if let status = run["status"]?.stringValue { r.backend.status = status }
        }
        if let branch = output["branch"]?.stringValue, !branch.isEmpty { r.backend.branch = branch }
        if let pr = output["pr_url"]?.stringValue, !pr.isEmpty { r.backend.prURL = pr }
        if let reported = output["output"]?.objectValue {
            // PostHog's `output` is free-form ("PR URL, commit SHA, etc."): its other plain
            // values go into the completion, bounded.
            r.backend.reported = reported.keys.sorted().filter { $0 != "pr_url" }.compactMap { key -> String? in
                switch reported[key] {
                case .string(let v)?: return v.isEmpty ? nil : "\(key.prefix(40)): \(v.prefix(200))"
                case .number(let n)?: return "\(key.prefix(40)): \(JSONWriter.format(number: n))"
                case .bool(let b)?: return "\(key.prefix(40)): \(b)"
                default: return nil
                }
            }.prefix(10).map { $0 }
        }
        if let text = output["text"]?.stringValue {
            r.backend.answer = text
            r.backend.status = output["state"]?.stringValue ?? "Completed"
        }
        if let usage = output["usage"], usage.objectValue != nil {
            // Untrusted numbers: a count that is not finite and non-negative is not a count.
            func tokens(_ v: JSONValue?) -> Double? { v?.numberValue.flatMap { $0.isFinite && $0 >= 0 && $0 < 1e15 ? $0 : nil } }
            r.backend.inputTokens = tokens(usage["input_tokens"])
            r.backend.outputTokens = tokens(usage["output_tokens"])
        }
    }

    /// The run's cost when the backend's pricing makes it known.
    public func cost(_ r: AgentRunRecord) -> Double? {
        agent.backend.cost(inputTokens: r.backend.inputTokens, outputTokens: r.backend.outputTokens)
    }
}
