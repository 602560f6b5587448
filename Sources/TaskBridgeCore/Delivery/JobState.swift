/// The life of a job (one rule applied to one event). Stored as text in the database.
///
/// ```
/// pending ──claim──▶ running ──last step ok──▶ succeeded
///    ▲                 │ │ └──permanent failure / out of retries──▶ dead
///    └──retry later────┘ └──lease expired (crash)──▶ claimable again
/// dead ──manual retry──▶ pending
/// ```
public enum JobState: String, Sendable, Hashable, CaseIterable {
    case pending
    case running
    case succeeded
    case dead

    public enum Event: Sendable, Hashable {
        case claim
        case stepSucceeded(isLast: Bool)
        case retryLater
        case fail
        /// Released without an attempt (shutdown, open breaker): back to pending.
        case release
        case leaseExpired
        case manualRetry
    }

    /// The next state, or `nil` when the event is not allowed in this state.
    public func on(_ event: Event) -> JobState? {
        switch (self, event) {
        case (.pending, .claim): .running
        case (.running, .stepSucceeded(let isLast)): isLast ? .succeeded : .running
        case (.running, .retryLater), (.running, .release): .pending
        case (.running, .fail): .dead
        // A lease that expired while running means the worker died: the job is claimed
        // again (its current step's outcome is unknown and may need reconciling).
        case (.running, .leaseExpired): .running
        case (.dead, .manualRetry): .pending
        default: nil
        }
    }

    /// Jobs in these states hold their ordering key: later jobs with the same key wait.
    public var blocksOrderingKey: Bool {
        self == .pending || self == .running
    }

    public var isTerminal: Bool {
        self == .succeeded || self == .dead
    }
}
