/// The life of a job (one rule applied to one event). Stored as text in the database.
///
/// ```
/// pending ──claim──▶ running ──last step ok──▶ succeeded
///    ▲  ▲              │ │ │ └──permanent failure / out of retries / poison──▶ dead
///    │  └─retry later──┘ │ └──step waits on the upstream──▶ waiting ──claim at poll time──▶ running
///    └──released, or lease expired (taken back as a suspect)
/// dead ──manual retry──▶ pending
/// ```
public enum JobState: String, Sendable, Hashable, CaseIterable {
    case pending
    case running
    /// A step follows a long-running upstream job (a PostHog run, a Zylon interaction):
    /// durably, holding no worker or lease, until its next poll is due.
    case waiting
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
        /// The step waits on the upstream until its next poll.
        case wait
    }

    /// The next state, or `nil` when the event is not allowed in this state.
    public func on(_ event: Event) -> JobState? {
        switch (self, event) {
        case (.pending, .claim), (.waiting, .claim): .running
        case (.running, .stepSucceeded(let isLast)): isLast ? .succeeded : .running
        case (.running, .retryLater), (.running, .release): .pending
        case (.running, .fail): .dead
        case (.running, .wait): .waiting
        // A lease that expired while running means the worker died or stalled: the job
        // is handed back (its current step's outcome is unknown and is reconciled).
        case (.running, .leaseExpired): .pending
        case (.dead, .manualRetry): .pending
        default: nil
        }
    }

    /// Jobs in these states hold their ordering key: later jobs with the same key wait.
    public var blocksOrderingKey: Bool {
        self == .pending || self == .running || self == .waiting
    }

    public var isTerminal: Bool {
        self == .succeeded || self == .dead
    }
}
