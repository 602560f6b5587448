import TaskBridgeCore

/// Durable state: events, jobs and their attempts, links, and rule versions. SQLite is
/// the embedded implementation; the protocol is what a PostgreSQL store implements for
/// multi-replica deployments.
public protocol Store: Sendable {
    /// Commits the event and its planned jobs atomically, or reports the first event
    /// with the same dedupe key. Returns only after the commit is durable.
    func ingest(_ event: PlannedEvent) async throws -> IngestOutcome

    /// Records rule versions so jobs can run the version they were planned with.
    func saveRuleVersions(_ rules: [Rule]) async throws
    func ruleVersion(_ hash: String) async throws -> StoredRuleVersion?

    /// Hands back jobs whose worker died (single-process stores at start-up).
    func recoverOrphanedJobs(nowMillis: Int64) async throws -> Int
    /// Leases up to `limit` due jobs of `target`, at most one per ordering key, oldest
    /// first; a job waits while an earlier job with its key is pending or running.
    func claimJobs(target: String, limit: Int, owner: String, nowMillis: Int64, leaseMillis: Int64) async throws -> [ClaimedJob]
    func events(seqs: [Int64]) async throws -> [Int64: StoredEvent]
    func link(target: String, key: String) async throws -> LinkRecord?
    /// Applies a worker's report. Returns `false` when the worker no longer holds the lease.
    @discardableResult
    func update(_ update: JobUpdate) async throws -> Bool
    /// When the earliest pending job of any target becomes due (Unix ms).
    func nextDueMillis() async throws -> Int64?
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
    /// Readiness: a write transaction can be opened.
    func checkWritable() async -> Bool
    func close() async throws
}
