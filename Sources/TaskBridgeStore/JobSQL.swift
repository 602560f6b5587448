/// SQL fragments both stores' job statements share word for word (the schemas keep the
/// same table and column names), built once.
enum JobSQL {
    /// What a claim returns, in the order ``ClaimedJob`` is read from.
    static let claimedColumns = """
        seq, id, event_seq, rule_id, rule_version, target, ordering_key, captures, step, outputs,
        attempts, first_due_at, uncertain, fence, lease_until, generation, solo, wait_state
        """

    /// The columns a new job is inserted with.
    static let insertColumns = "id, event_seq, rule_id, rule_version, target, ordering_key, captures, state, step, outputs, attempts, due_at, first_due_at, created_at, updated_at, generation"

    /// A job summary's columns, over `jobs j JOIN events e`.
    static let summaryColumns = """
        j.id, e.id AS event_id, e.source, e.type, j.rule_id, j.target, j.ordering_key, j.state, j.step, j.attempts,
        j.due_at, j.created_at, j.updated_at, j.last_error, j.outputs, j.seq
        """

    /// `'pending', 'running', 'waiting'`: the states that hold an ordering key.
    static let openStates = JobTransition.list(JobTransition.open)
    /// `'pending', 'waiting'`: the states a claim takes jobs from.
    static let claimableStates = JobTransition.list(JobTransition.claimable)

    /// No earlier job with `j`'s ordering key is open anywhere (the per-key FIFO).
    static let firstOfKey = """
        (j.ordering_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM jobs p
            WHERE p.ordering_key = j.ordering_key AND p.seq < j.seq AND p.state IN (\(openStates))))
        """
}
