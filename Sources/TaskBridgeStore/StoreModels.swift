import TaskBridgeCore

/// The answer to an ingest: the event's id, and whether it repeats a dedupe key.
public struct IngestOutcome: Sendable, Hashable {
    public var eventId: String
    public var duplicate: Bool
    public var jobsPlanned: Int

    public init(eventId: String, duplicate: Bool, jobsPlanned: Int) {
        self.eventId = eventId
        self.duplicate = duplicate
        self.jobsPlanned = jobsPlanned
    }
}

/// An event as stored, with its raw body.
public struct StoredEvent: Sendable {
    public var seq: Int64
    public var id: String
    public var source: String
    public var type: String
    public var dedupeKey: String?
    public var receivedAtMillis: Int64
    public var clientIP: String?
    public var headers: [String: String]
    public var contentType: String
    public var body: [UInt8]
    public var status: String
}

/// A job handed to a worker by ``Store/claimJobs(target:limit:owner:now:leaseMillis:)``.
public struct ClaimedJob: Sendable {
    public var seq: Int64
    public var id: String
    public var eventSeq: Int64
    public var ruleId: String
    public var ruleVersion: String
    public var target: String
    public var orderingKey: String?
    public var captures: [String: String]
    /// Index of the next step to run.
    public var step: Int
    /// Outputs of finished steps, keyed by step id.
    public var outputs: [String: JSONValue]
    /// Failed attempts of the current step so far.
    public var attempts: Int
    /// When the current step first became due (Unix ms), for the max-age limit.
    public var firstDueAtMillis: Int64
    /// The current step may have reached the target already (a crash or a timeout after
    /// sending): a create must be reconciled before it is sent again.
    public var uncertain: Bool
    public var leaseOwner: String
    /// The claim's fencing token: every report must carry it, and a later claim of the
    /// same job (after this lease expired) makes it stale.
    public var fence: Int64 = 0
    /// The lease's end as written by the claim (Unix ms, the claimer's clock).
    public var leaseUntilMillis: Int64 = 0
    /// 0 for jobs planned at ingest; n for the n-th replay of the event. Part of the
    /// idempotency key, so a replay is new work upstream.
    public var generation: Int = 0
    /// Claimed alone, as a suspect of crashing the process (the poison-job guard).
    public var solo = false
    /// The current step is waiting on the upstream (a run, an interaction): what it
    /// needs to poll again.
    public var waitState: JSONValue?
}

public struct StoredRuleVersion: Sendable, Hashable {
    public var hash: String
    public var ruleId: String
    public var file: String
    public var json: String
}

/// A durable map from an external key (`sentry-issue:123`) to a task at a target.
public struct LinkRecord: Sendable, Hashable {
    public var target: String
    public var key: String
    public var taskId: String
    public var projectId: String?

    public init(target: String, key: String, taskId: String, projectId: String?) {
        self.target = target
        self.key = key
        self.taskId = taskId
        self.projectId = projectId
    }
}

/// One delivery attempt, as shown by the admin API.
public struct AttemptRecord: Sendable, Hashable {
    public var step: Int
    public var startedAtMillis: Int64
    public var latencyMillis: Double
    public var status: Int?
    /// `ok`, `retry`, `failed`, `released`.
    public var outcome: String
    public var error: String?
    /// Method, path and JSON body sent — never headers, so never a token.
    public var request: String?
    public var response: String?

    public init(step: Int, startedAtMillis: Int64, latencyMillis: Double, status: Int?, outcome: String,
                error: String?, request: String?, response: String?) {
        self.step = step
        self.startedAtMillis = startedAtMillis
        self.latencyMillis = latencyMillis
        self.status = status
        self.outcome = outcome
        self.error = error
        self.request = request
        self.response = response
    }
}

/// What a worker reports about a claimed job.
public struct JobUpdate: Sendable {
    public enum Change: Sendable {
        /// A step succeeded and more follow; the lease is extended.
        case progressed(nextStep: Int, outputs: [String: JSONValue], leaseUntilMillis: Int64)
        /// The last step succeeded.
        case succeeded(outputs: [String: JSONValue])
        /// Try the current step again at `atMillis`.
        case retry(atMillis: Int64, error: String, uncertain: Bool)
        /// Permanently failed: a dead letter until someone retries it.
        case dead(error: String)
        /// Handed back untried (shutdown); `uncertain` when a request was in flight.
        case released(uncertain: Bool)
        /// The current step waits on the upstream (a run, an interaction): poll again at
        /// `untilMillis` with `state`. Holds no lease and spends no attempt; the job
        /// keeps its place in its ordering key.
        case waiting(untilMillis: Int64, state: JSONValue)
        /// Handed back untried until `untilMillis` without spending an attempt: the
        /// target cannot take requests now (no token, open breaker, paused on 401/403).
        case deferred(untilMillis: Int64, reason: String)
    }

    public var jobSeq: Int64
    /// The claim's fencing token (``ClaimedJob/fence``): the report applies only while
    /// it is still the job's current claim.
    public var fence: Int64
    public var change: Change
    public var attempt: AttemptRecord?
    public var link: LinkRecord?
    public var nowMillis: Int64

    public init(jobSeq: Int64, fence: Int64, change: Change, attempt: AttemptRecord? = nil,
                link: LinkRecord? = nil, nowMillis: Int64) {
        self.jobSeq = jobSeq
        self.fence = fence
        self.change = change
        self.attempt = attempt
        self.link = link
        self.nowMillis = nowMillis
    }
}

public struct EventFilter: Sendable, Hashable {
    public var source: String?
    public var type: String?
    public var status: String?
    public var sinceMillis: Int64?
    public var untilMillis: Int64?
    public var limit = 100
    /// An event id or a dedupe key, matched exactly.
    public var query: String?
    /// A ``DeliveryStatus`` raw value.
    public var delivery: String?
    /// Only events older than this cursor (``EventSummary/cursor`` of the last row seen).
    public var before: Int64?

    public init(source: String? = nil, type: String? = nil, status: String? = nil, sinceMillis: Int64? = nil,
                untilMillis: Int64? = nil, limit: Int = 100, query: String? = nil, delivery: String? = nil, before: Int64? = nil) {
        self.query = query
        self.delivery = delivery
        self.before = before
        self.source = source
        self.type = type
        self.status = status
        self.sinceMillis = sinceMillis
        self.untilMillis = untilMillis
        self.limit = limit
    }
}

public struct JobFilter: Sendable, Hashable {
    public var source: String?
    public var type: String?
    public var state: String?
    public var target: String?
    public var ruleId: String?
    public var sinceMillis: Int64?
    public var untilMillis: Int64?
    public var limit = 100

    public init(source: String? = nil, type: String? = nil, state: String? = nil, target: String? = nil,
                ruleId: String? = nil, sinceMillis: Int64? = nil, untilMillis: Int64? = nil, limit: Int = 100) {
        self.source = source
        self.type = type
        self.state = state
        self.target = target
        self.ruleId = ruleId
        self.sinceMillis = sinceMillis
        self.untilMillis = untilMillis
        self.limit = limit
    }
}

public struct EventSummary: Sendable, Hashable {
    public var id: String
    public var source: String
    public var type: String
    public var dedupeKey: String?
    public var receivedAtMillis: Int64
    public var status: String
    public var jobs: Int
    /// How far the event's work has got (``DeliveryStatus``), derived from its jobs.
    public var delivery: String
    /// Where the next page of a newest-first list starts (`EventFilter.before`).
    public var cursor: Int64
}

public struct JobSummary: Sendable, Hashable {
    public var id: String
    public var eventId: String
    public var source: String
    public var type: String
    public var ruleId: String
    public var target: String
    public var orderingKey: String?
    public var state: String
    public var step: Int
    public var attempts: Int
    public var dueAtMillis: Int64
    public var createdAtMillis: Int64
    public var updatedAtMillis: Int64
    public var lastError: String?
    public var outputs: String
    /// The hash of the rule version that planned the job.
    public var ruleVersion: String = ""
    /// 0 when planned at ingest; each replay of the event plans a new generation.
    public var generation: Int = 0
}

public struct EventDetail: Sendable {
    public var event: StoredEvent
    public var jobs: [JobSummary]
    /// Attempts per job id, oldest first.
    public var attempts: [String: [AttemptRecord]]
}

public struct QueueStats: Sendable, Hashable {
    public var jobsByState: [String: Int]
    /// Jobs per state, per target.
    public var jobsByTargetState: [String: [String: Int]] = [:]
    /// Jobs due now (pending and past their due time), per target.
    public var dueByTarget: [String: Int]
    /// Age in seconds of the oldest due job, per target.
    public var oldestDueAgeSeconds: [String: Double]

    public init(jobsByState: [String: Int] = [:], dueByTarget: [String: Int] = [:], oldestDueAgeSeconds: [String: Double] = [:]) {
        self.jobsByState = jobsByState
        self.dueByTarget = dueByTarget
        self.oldestDueAgeSeconds = oldestDueAgeSeconds
    }
}

extension QueueStats {
    mutating func count(target: String, state: String, _ n: Int) {
        jobsByState[state, default: 0] += n
        jobsByTargetState[target, default: [:]][state] = n
    }
}

public struct PruneResult: Sendable, Hashable {
    public var events: Int
    public var jobs: Int
    public var attempts: Int
}

/// Raised when a store call cannot be served; messages name the operation, never data.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let message: String
    /// The database is reachable but its schema is missing or older than this binary's:
    /// `serve` (or `taskbridge migrate`) brings it up to date.
    public let schemaBehind: Bool
    public init(_ message: String, schemaBehind: Bool = false) {
        self.message = message
        self.schemaBehind = schemaBehind
    }
    public var description: String { message }
}

/// A held lease to renew: the job and the fencing token of its claim.
public struct LeaseRef: Sendable, Hashable {
    public var jobSeq: Int64
    public var fence: Int64

    public init(jobSeq: Int64, fence: Int64) {
        self.jobSeq = jobSeq
        self.fence = fence
    }
}

/// What ``Store/recoverJobs(expiredBeforeMillis:maxCrashes:nowMillis:)`` did.
public struct RecoveryResult: Sendable, Hashable {
    /// Interrupted jobs handed back as suspects (their next run is alone).
    public var suspects: Int
    /// Jobs set aside as poison: their run was cut short `maxCrashes` times.
    public var poisoned: Int { poisonedTargets.count }
    /// The target of each job set aside as poison.
    public var poisonedTargets: [String]

    public init(suspects: Int = 0, poisonedTargets: [String] = []) {
        self.suspects = suspects
        self.poisonedTargets = poisonedTargets
    }
}

/// One call made for an agent run — to GroupChat's Agent API or to the backend — as
/// `taskbridge runs <id>` shows it. Never holds a header, so never a token.
public struct AgentCallRecord: Sendable, Hashable {
    public var runId: String
    public var atMillis: Int64
    /// `groupchat` or the backend target's name.
    public var api: String
    public var request: String
    public var status: Int?
    public var latencyMillis: Double
    public var response: String?

    public init(runId: String, atMillis: Int64, api: String, request: String, status: Int?, latencyMillis: Double, response: String?) {
        self.runId = runId
        self.atMillis = atMillis
        self.api = api
        self.request = request
        self.status = status
        self.latencyMillis = latencyMillis
        self.response = response
    }
}

/// How many runs of an agent are in a phase (the `/metrics` gauge).
public struct AgentRunCount: Sendable, Hashable {
    public var agent: String
    public var phase: String
    public var outcome: String?
    public var count: Int
}
