import TaskBridgeCore

/// The job state machine as SQL, shared by both SQL stores: every state a statement
/// writes or matches comes from Core's ``JobState`` (its `on(_:)` table), so the stores
/// and the documented transitions cannot drift apart.
enum JobTransition: CaseIterable {
    case progressed, succeeded, retry, dead, released, deferred, waiting

    init(_ change: JobUpdate.Change) {
        switch change {
        case .progressed: self = .progressed
        case .succeeded: self = .succeeded
        case .retry: self = .retry
        case .dead: self = .dead
        case .released: self = .released
        case .deferred: self = .deferred
        case .waiting: self = .waiting
        }
    }

    /// The state-machine event a worker's report is.
    var event: JobState.Event {
        switch self {
        case .progressed: .stepSucceeded(isLast: false)
        case .succeeded: .stepSucceeded(isLast: true)
        case .retry: .retryLater
        case .dead: .fail
        case .released, .deferred: .release
        case .waiting: .wait
        }
    }

    /// Reports apply to running jobs only (a stale claim's report matches nothing).
    static let from = JobState.running

    /// The state the report moves the job to. Every report is allowed from `running`
    /// (checked by `JobTransitionTests`); `running` is only a fallback that keeps a
    /// broken table from writing a state the machine does not know.
    var to: JobState { Self.from.on(event) ?? Self.from }

    /// `SET` clause over the row's values: `v.column1` is the job seq, `v.column2` the
    /// claim's fencing token, the rest as in the stores' `values(_:)`.
    func setClause(_ d: SQLDialect) -> String {
        let state = "state = '\(to.rawValue)'"
        return switch self {
        case .progressed:
            "\(state), step = v.column3, outputs = v.column4, attempts = 0, first_due_at = v.column6, uncertain = 0, crashes = 0, solo = 0, wait_state = NULL, lease_until = \(d.greatest("lease_until", "v.column5")), last_error = NULL, updated_at = v.column6"
        case .succeeded:
            "\(state), step = step + 1, outputs = v.column3, uncertain = 0, wait_state = NULL, lease_owner = NULL, lease_until = NULL, last_error = NULL, updated_at = v.column4"
        case .retry:
            "\(state), due_at = v.column3, attempts = attempts + 1, uncertain = v.column4, last_error = v.column5, solo = 0, lease_owner = NULL, lease_until = NULL, updated_at = v.column6"
        case .dead:
            "\(state), attempts = attempts + 1, last_error = v.column3, lease_owner = NULL, lease_until = NULL, updated_at = v.column4"
        case .released:
            "\(state), uncertain = \(d.greatest("uncertain", "v.column3")), solo = 0, lease_owner = NULL, lease_until = NULL, updated_at = v.column4"
        case .deferred:
            "\(state), due_at = v.column3, last_error = v.column4, solo = 0, lease_owner = NULL, lease_until = NULL, updated_at = v.column5"
        case .waiting:
            "\(state), due_at = v.column3, wait_state = v.column4, uncertain = 0, crashes = 0, solo = 0, last_error = NULL, lease_owner = NULL, lease_until = NULL, updated_at = v.column5"
        }
    }

    var columns: Int {
        switch self {
        case .progressed, .retry: 6
        case .deferred, .waiting: 5
        case .succeeded, .dead, .released: 4
        }
    }

    // MARK: States other statements match

    /// States a claim takes jobs from.
    static let claimable = JobState.allCases.filter { $0.on(.claim) != nil }
    /// States that hold an ordering key: a later job with the key waits for these.
    static let open = JobState.allCases.filter(\.blocksOrderingKey)
    /// What a cut-short run becomes (``Store/recoverJobs(expiredBeforeMillis:maxCrashes:nowMillis:)``).
    static let recovered = JobState.running.on(.leaseExpired) ?? .pending
    /// What a retried dead letter becomes.
    static let retried = JobState.dead.on(.manualRetry) ?? .pending

    /// `'pending', 'waiting'`: a list for `state IN (…)`.
    static func list(_ states: [JobState]) -> String {
        states.map { "'\($0.rawValue)'" }.joined(separator: ", ")
    }
}

/// Where the two SQL dialects differ in the statements both stores share.
enum SQLDialect {
    case sqlite, postgres

    /// The larger of two values (SQLite's two-argument `MAX`, PostgreSQL's `GREATEST`).
    func greatest(_ a: String, _ b: String) -> String {
        switch self {
        case .sqlite: "MAX(\(a), \(b))"
        case .postgres: "GREATEST(\(a), \(b))"
        }
    }
}
