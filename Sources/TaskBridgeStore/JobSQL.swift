import TaskBridgeCore

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
        j.due_at, j.created_at, j.updated_at, j.last_error, j.outputs, j.seq, j.rule_version, j.generation
        """

    /// ``DeliveryStatus/of(_:)`` of the jobs of event `e`, as SQL (both dialects): over the
    /// jobs of the event's latest generation.
    static let delivery: String = {
        let latest = "d.event_seq = e.seq AND d.generation = (SELECT MAX(g.generation) FROM jobs g WHERE g.event_seq = e.seq)"
        return """
        CASE
          WHEN NOT EXISTS (SELECT 1 FROM jobs d WHERE d.event_seq = e.seq) THEN 'none'
          WHEN EXISTS (SELECT 1 FROM jobs d WHERE \(latest) AND d.state = '\(JobState.dead.rawValue)') THEN 'dead'
          WHEN EXISTS (SELECT 1 FROM jobs d WHERE \(latest) AND d.state <> '\(JobState.succeeded.rawValue)'
                       AND d.last_error IS NOT NULL) THEN 'failed'
          WHEN NOT EXISTS (SELECT 1 FROM jobs d WHERE \(latest) AND d.state <> '\(JobState.succeeded.rawValue)') THEN 'delivered'
          ELSE 'planned'
        END
        """
    }()

    /// Events that can have `delivery`, found from the jobs side (`jobs_state` and
    /// `jobs_open` indexes) or the event's own status, so a filter for a rare status does
    /// not work out every event's status.
    static func deliveryCandidates(_ delivery: String) -> String? {
        switch delivery {
        case DeliveryStatus.dead.rawValue: "e.seq IN (SELECT event_seq FROM jobs WHERE state = '\(JobState.dead.rawValue)')"
        case DeliveryStatus.failed.rawValue: "e.seq IN (SELECT event_seq FROM jobs WHERE state IN (\(openStates)) AND last_error IS NOT NULL)"
        case DeliveryStatus.planned.rawValue: "e.seq IN (SELECT event_seq FROM jobs WHERE state IN (\(openStates)))"
        case DeliveryStatus.delivered.rawValue: "e.seq IN (SELECT event_seq FROM jobs WHERE state = '\(JobState.succeeded.rawValue)')"
        // An event gets jobs only by being planned (at ingest, or by a replay, which marks it planned).
        case DeliveryStatus.none.rawValue: "e.status <> '\(PlannedEvent.Status.planned.rawValue)'"
        default: nil
        }
    }

    /// The WHERE clauses of an event list, with `bind` appending one value and returning its placeholder.
    static func eventClauses(_ f: EventFilter, bind: (FilterValue) -> String) -> [String] {
        var clauses: [String] = []
        if let v = f.source { clauses.append("e.source = \(bind(.text(v)))") }
        if let v = f.type { clauses.append("e.type = \(bind(.text(v)))") }
        if let v = f.status { clauses.append("e.status = \(bind(.text(v)))") }
        if let v = f.sinceMillis { clauses.append("e.received_at >= \(bind(.integer(v)))") }
        if let v = f.untilMillis { clauses.append("e.received_at < \(bind(.integer(v)))") }
        if let v = f.query { clauses.append("(e.id = \(bind(.text(v))) OR e.dedupe_key = \(bind(.text(v))))") }
        if let v = f.before { clauses.append("e.seq < \(bind(.integer(v)))") }
        if let v = f.delivery {
            if let candidates = deliveryCandidates(v) { clauses.append(candidates) }
            clauses.append("(\(delivery)) = \(bind(.text(v)))")
        }
        return clauses
    }

    /// The WHERE clause of a job list (over `jobs j JOIN events e`), or "" without filters.
    static func jobWhere(_ f: JobFilter, bind: (FilterValue) -> String) -> String {
        var clauses: [String] = []
        if let v = f.source { clauses.append("e.source = \(bind(.text(v)))") }
        if let v = f.type { clauses.append("e.type = \(bind(.text(v)))") }
        if let v = f.state { clauses.append("j.state = \(bind(.text(v)))") }
        if let v = f.target { clauses.append("j.target = \(bind(.text(v)))") }
        if let v = f.ruleId { clauses.append("j.rule_id = \(bind(.text(v)))") }
        if let v = f.sinceMillis { clauses.append("j.created_at >= \(bind(.integer(v)))") }
        if let v = f.untilMillis { clauses.append("j.created_at < \(bind(.integer(v)))") }
        return clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
    }

    /// A value a filter binds: the stores turn it into their own parameter.
    enum FilterValue {
        case text(String)
        case integer(Int64)
    }

    /// An event list's statement around its clauses.
    static func eventList(_ clauses: [String], limit: String) -> String {
        """
        SELECT e.seq, e.id, e.source, e.type, e.dedupe_key, e.received_at, e.status,
               (SELECT COUNT(*) FROM jobs j WHERE j.event_seq = e.seq) AS jobs, \(delivery) AS delivery
        FROM events e \(clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "))
        ORDER BY e.seq DESC LIMIT \(limit)
        """
    }

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
