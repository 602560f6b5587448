import TaskBridgeCore

/// A task a link key maps to, as the store keeps it.
public struct LinkedTask: Sendable, Hashable {
    public var taskId: String
    public var projectId: String?

    public init(taskId: String, projectId: String?) {
        self.taskId = taskId
        self.projectId = projectId
    }
}

/// What a connector knows about the job a step belongs to.
public struct StepContext: Sendable {
    /// Stable per (event dedupe key, rule, step, replay generation): sent as
    /// `Idempotency-Key` where the upstream honours it, and hidden in created tasks so an
    /// uncertain create can be found again.
    public var idempotencyKey: String
    /// The previous attempt's outcome is unknown: reconcile before sending again.
    public var uncertain: Bool
    /// A later step reads this step's whole output; otherwise ``TargetConnector/compact(_:)``
    /// is all that is kept, and a connector may parse responses for that alone.
    public var fullTask: Bool
    public var lookupLink: @Sendable (String) async throws -> LinkedTask?
    /// Set when the step waited (``StepResult/Outcome/wait(seconds:state:)``): the state
    /// it saved, so it polls instead of starting over.
    public var waitState: JSONValue?

    public init(idempotencyKey: String, uncertain: Bool, fullTask: Bool = true, waitState: JSONValue? = nil,
                lookupLink: @escaping @Sendable (String) async throws -> LinkedTask?) {
        self.idempotencyKey = idempotencyKey
        self.uncertain = uncertain
        self.fullTask = fullTask
        self.waitState = waitState
        self.lookupLink = lookupLink
    }
}

/// Executes rendered steps against one configured target: resolves names and links,
/// sends the documented requests through the target's gate, reconciles a step whose
/// outcome is unknown before sending it again, and classifies every failure
/// (``StepFailure``) for the retry policy. The runner and the dry run know only this.
public protocol TargetConnector: Sendable {
    var target: String { get }
    func execute(_ step: RenderedStep, context: StepContext) async -> StepResult
    /// What a job keeps of a step's output when no later step reads it: enough for the
    /// admin view and for later steps that name the task.
    func compact(_ output: JSONValue) -> JSONValue
    /// Reads the credentials again (a rotated `{"file": …}` secret). Returns `true` when
    /// they changed and are in use from the next request on.
    func reloadCredentials(secrets: SecretResolver) -> Bool
    /// `taskbridge check --live`: asks the upstream, read-only, whether the token works
    /// and whether every name written literally in `steps` (the steps of this target)
    /// resolves to exactly one thing. Problems are reported at the step's field.
    func liveCheck(_ steps: [LiveCheckStep]) async -> [Diagnostic]
}

/// A step of a rule, for ``TargetConnector/liveCheck(_:)``: where it is written.
public struct LiveCheckStep: Sendable {
    public var step: StepSpec
    public var file: String

    public init(step: StepSpec, file: String) {
        self.step = step
        self.file = file
    }

    /// A field written literally (no placeholders): what can be checked before an
    /// event arrives.
    public func literal(_ field: String) -> String? {
        guard case .template(let t)? = step.values[field] else { return nil }
        return t.literalText
    }

    public func problem(_ field: String, _ message: String) -> Diagnostic {
        Diagnostic(file: file, path: field.isEmpty ? step.location : step.location + "." + field, message: message)
    }
}

extension TargetConnector {
    public func compact(_ output: JSONValue) -> JSONValue { output }
    public func reloadCredentials(secrets: SecretResolver) -> Bool { false }
    public func liveCheck(_ steps: [LiveCheckStep]) async -> [Diagnostic] { [] }
}
