import TaskBridgeCore

/// Checked right before a request leaves for a target, on behalf of the job that sends
/// it: the job must still hold its lease, and hold it for as long as the request may
/// take — otherwise another worker could claim the job meanwhile and send it again.
public protocol SendGuard: Sendable {
    /// Throws (``StepFailure/leaseLost``) when the job's claim is no longer current;
    /// extends the lease first when it would end within `seconds`.
    func admit(forSeconds seconds: Double) async throws(StepFailure)
}

/// The guard of the job the current task works for. Transports read it, so connectors
/// need not pass it through every call.
public enum SendGuards {
    @TaskLocal public static var current: (any SendGuard)?
}
