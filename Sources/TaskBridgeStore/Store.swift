import TaskBridgeCore

/// Durable state: events, jobs and their attempts, links, rule versions and agent runs.
/// SQLite (``SQLiteStore``) is the embedded single-process implementation; PostgreSQL
/// (``PostgresStore``) is shared by any number of replicas. Both pass one conformance
/// suite (`StoreConformanceTests`).
public protocol Store: Sendable {
    /// Commits the event and its planned jobs atomically, or reports the first event
    /// with the same dedupe key. Returns only after the commit is durable.
    func ingest(_ event: PlannedEvent) async throws -> IngestOutcome

    /// Records rule versions so jobs can run the version they were planned with.
    func saveRuleVersions(_ rules: [Rule]) async throws
    func ruleVersion(_ hash: String) async throws -> StoredRuleVersion?

    /// Hands back running jobs whose run was cut short: every running job
    /// (`expiredBeforeMillis == nil`, a single-process store at start-up) or those whose
    /// lease ended before that time (a worker died or stalled). Each becomes a pending
    /// suspect whose current step is reconciled before it is sent again; a job whose
    /// run was cut short `maxCrashes` times — the last time while it ran alone — becomes
    /// a dead letter instead (the poison-job guard).
    func recoverJobs(expiredBeforeMillis: Int64?, maxCrashes: Int, nowMillis: Int64) async throws -> RecoveryResult
    /// Leases up to `limit` due jobs of `target`, at most one per ordering key, oldest
    /// first; a job waits while an earlier job with its key is pending or running.
    /// Every claim takes a new fencing token. Suspects (jobs a crash interrupted) are not
    /// claimed here but by ``claimSuspect(targets:owner:nowMillis:leaseMillis:)``.
    func claimJobs(target: String, limit: Int, owner: String, nowMillis: Int64, leaseMillis: Int64) async throws -> [ClaimedJob]
    /// Leases the oldest due suspect of one of `targets`, to be run alone.
    func claimSuspect(targets: [String], owner: String, nowMillis: Int64, leaseMillis: Int64) async throws -> ClaimedJob?
    /// Extends held leases to at least `untilMillis`; returns the jobs whose claim is
    /// still current (the others were lost).
    func renewLeases(_ leases: [LeaseRef], untilMillis: Int64, nowMillis: Int64) async throws -> Set<Int64>
    func events(seqs: [Int64]) async throws -> [Int64: StoredEvent]
    func link(target: String, key: String) async throws -> LinkRecord?
    /// Applies a worker's report. Returns `false` when the worker no longer holds the lease.
    @discardableResult
    func update(_ update: JobUpdate) async throws -> Bool
    /// When the earliest pending suspect of one of `targets` becomes due (Unix ms).
    func nextSuspectDueMillis(targets: [String]) async throws -> Int64?
    /// When the earliest pending job of one of `targets` becomes due (Unix ms).
    func nextDueMillis(targets: [String]) async throws -> Int64?
    func queueStats(nowMillis: Int64) async throws -> QueueStats

    func listEvents(_ filter: EventFilter) async throws -> [EventSummary]
    func eventDetail(id: String) async throws -> EventDetail?
    func listJobs(_ filter: JobFilter) async throws -> [JobSummary]
    /// Makes a dead (or pending) job due now. Returns `false` for unknown or running jobs.
    func retryJob(id: String, nowMillis: Int64) async throws -> Bool
    /// Makes every dead job matching the filter due now; returns how many.
    func retryDeadJobs(_ filter: JobFilter, nowMillis: Int64) async throws -> Int
    /// Adds freshly planned jobs to an existing event (replay through the current rules).
    func addJobs(eventId: String, jobs: [PlannedJob], nowMillis: Int64) async throws -> [String]
    /// Deletes events older than `beforeMillis` whose jobs all succeeded (or that had
    /// none), with their jobs and attempts. Dead letters are kept.
    func prune(beforeMillis: Int64) async throws -> PruneResult
    // MARK: Agent runs (see AgentRunRecord)

    /// Records a run seen for the first time. Returns `false` (and changes nothing) when
    /// the run is already known: runs are deduped by id before anything is done for them.
    func insertAgentRun(_ run: AgentRunRecord) async throws -> Bool
    /// Saves a run's new state and the calls made since the last save, in one commit.
    func saveAgentRun(_ run: AgentRunRecord, calls: [AgentCallRecord]) async throws
    func agentRun(id: String) async throws -> AgentRunRecord?
    /// Newest first; `phase` and `agent` filter when given.
    func listAgentRuns(agent: String?, phase: String?, limit: Int) async throws -> [AgentRunRecord]
    /// The agent's runs that are not done (or done with events still to store), oldest
    /// first: what a restart resumes.
    func openAgentRuns(agent: String) async throws -> [AgentRunRecord]
    func agentRunCalls(runId: String, limit: Int) async throws -> [AgentCallRecord]
    /// Cost of the agent's runs started since `sinceMillis`, and of those about to start
    /// (a reserved price), known costs only.
    func agentSpendUsd(agent: String, sinceMillis: Int64) async throws -> Double
    func agentRunCounts() async throws -> [AgentRunCount]

    // MARK: Several processes

    /// Several processes may use this store at once (PostgreSQL replicas). Start-up
    /// recovery then takes back only jobs whose lease expired: a running job may belong
    /// to a live replica.
    var isShared: Bool { get }
    /// Calls `onWork` whenever another process commits work (new jobs, a retry, a
    /// replay), until cancelled, so idle dispatchers wake without polling. A store
    /// without such a channel returns at once; the dispatcher's poll interval is the
    /// fallback either way.
    func listenForWork(_ onWork: @escaping @Sendable () -> Void) async
    /// Runs `body` while this process is the only one running it under `name` (one
    /// agent's runs, say): it waits while another process holds the name, and `body` is
    /// cancelled if the hold is lost. A single-process store runs `body` at once.
    func runExclusively(_ name: String, _ body: @escaping @Sendable () async -> Void) async

    /// Jobs not yet finished (pending, running or waiting).
    func openJobCount() async throws -> Int
    /// The schema version the database is at (what `taskbridge migrate` reports).
    func schemaVersion() async throws -> Int
    /// Readiness: a write transaction can be opened.
    func checkWritable() async -> Bool
    func close() async throws
}

extension Store {
    public var isShared: Bool { false }
    public func listenForWork(_ onWork: @escaping @Sendable () -> Void) async {}
    public func runExclusively(_ name: String, _ body: @escaping @Sendable () async -> Void) async { await body() }
}
