import TaskBridgeCore

/// Why a step did not succeed, classified for the retry policy. `sent` says whether
/// the request may have reached the target (so a create must be reconciled first).
public struct StepFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var failureClass: FailureClass
    public var reason: String
    public var status: Int?
    public var retryAfterSeconds: Double?
    public var sent: Bool
    /// The target's breaker is open: hand the job back without spending an attempt.
    public var breakerOpen = false
    /// Nothing was sent and the target cannot take requests for this long (open
    /// breaker, paused after 401/403): the job waits without spending an attempt.
    public var deferSeconds: Double?
    /// The job's lease was lost before the request could leave: the worker stops and
    /// writes nothing (another worker owns the job now).
    public var leaseLost = false

    public static func lostLease(_ reason: String) -> StepFailure {
        var f = StepFailure(.retryable, reason)
        f.leaseLost = true
        return f
    }

    public init(_ failureClass: FailureClass, _ reason: String, status: Int? = nil, retryAfterSeconds: Double? = nil, sent: Bool = false) {
        self.failureClass = failureClass
        self.reason = reason
        self.status = status
        self.retryAfterSeconds = retryAfterSeconds
        self.sent = sent
    }

    public static func permanent(_ reason: String) -> StepFailure { StepFailure(.permanent, reason) }

    public var description: String { reason }
}

/// What one attempt looked like on the wire, for the attempts table and the admin API.
/// Never includes headers, so never a token.
public struct WireRecord: Sendable, Hashable {
    public var request: String
    public var status: Int?
    public var latencyMillis: Double
    public var response: String?

    public init(request: String, status: Int?, latencyMillis: Double, response: String?) {
        self.request = request
        self.status = status
        self.latencyMillis = latencyMillis
        self.response = response
    }
}

/// The outcome of executing one rendered step.
public struct StepResult: Sendable {
    public enum Outcome: Sendable {
        /// `output` becomes `steps.<id>` for later steps; `link` is recorded with it.
        case success(output: JSONValue, link: (key: String, taskId: String, projectId: String?)?)
        case failure(StepFailure)
        /// The upstream is still working (a PostHog run, a Zylon interaction): keep the
        /// job waiting — durably, holding no worker, lease or connection — and execute
        /// the step again in `seconds` with ``StepContext/waitState`` = `state`.
        case wait(seconds: Double, state: JSONValue)
    }

    public var outcome: Outcome
    /// Requests made for this step (lookups included), in order.
    public var wire: [WireRecord]

    public init(outcome: Outcome, wire: [WireRecord]) {
        self.outcome = outcome
        self.wire = wire
    }
}
