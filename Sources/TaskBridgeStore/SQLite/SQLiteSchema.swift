/// The SQLite schema. Times are Unix milliseconds; JSON columns hold compact JSON.
enum SQLiteSchema {
    static let version = 4

    /// Statements that bring a database of version `n - 1` to version `n`. A new
    /// database is created at ``version`` by ``statements`` and needs none of them.
    static let migrations: [Int: [String]] = [
        2: [
            "ALTER TABLE jobs ADD COLUMN fence INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE jobs ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE jobs ADD COLUMN solo INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE jobs ADD COLUMN generation INTEGER NOT NULL DEFAULT 0",
        ],
        // Waiting steps (a PostHog run, a Zylon interaction being followed): the
        // `waiting` state and what the step needs to poll again. The open-job indexes
        // are rebuilt to cover the new state.
        3: [
            "ALTER TABLE jobs ADD COLUMN wait_state TEXT",
            "DROP INDEX IF EXISTS jobs_open",
            "DROP INDEX IF EXISTS jobs_key",
            "DROP INDEX IF EXISTS jobs_due",
        ],
        // Agent runs and their calls: new tables only, made by ``statements``.
        4: [],
    ]

    static let statements = [
        """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            type TEXT NOT NULL,
            dedupe_key TEXT,
            received_at INTEGER NOT NULL,
            client_ip TEXT,
            headers TEXT NOT NULL,
            content_type TEXT NOT NULL,
            body BLOB NOT NULL,
            status TEXT NOT NULL,
            UNIQUE (source, dedupe_key)
        )
        """,
        "CREATE INDEX IF NOT EXISTS events_received ON events (received_at)",
        // The console's search by delivery id (a dedupe key without its source), and its
        // newest-first list of one source (without it, SQLite read every event of the
        // source through the unique index and sorted them). Every open runs these
        // statements, so an existing database gets them without a new version.
        "CREATE INDEX IF NOT EXISTS events_dedupe_key ON events (dedupe_key)",
        "CREATE INDEX IF NOT EXISTS events_source ON events (source, seq)",
        """
        CREATE TABLE IF NOT EXISTS jobs (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            event_seq INTEGER NOT NULL,
            rule_id TEXT NOT NULL,
            rule_version TEXT NOT NULL,
            target TEXT NOT NULL,
            ordering_key TEXT,
            captures TEXT NOT NULL,
            state TEXT NOT NULL,
            step INTEGER NOT NULL,
            outputs TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            due_at INTEGER NOT NULL,
            first_due_at INTEGER NOT NULL,
            lease_owner TEXT,
            lease_until INTEGER,
            uncertain INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            -- Fencing token: incremented by every claim; a report counts only with the
            -- claim's token, so a worker that lost its lease cannot write.
            fence INTEGER NOT NULL DEFAULT 0,
            -- Runs of the current step that a process crash (or a lost lease) cut short.
            crashes INTEGER NOT NULL DEFAULT 0,
            -- Claimed as a suspect, alone in its process (see the poison-job guard).
            solo INTEGER NOT NULL DEFAULT 0,
            -- 0 for jobs planned at ingest; each replay of the event plans a new generation.
            generation INTEGER NOT NULL DEFAULT 0,
            -- A waiting step's poll state (JSON): the upstream ids it follows.
            wait_state TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )
        """,
        // Open jobs in arrival order per target: the claim scan.
        "CREATE INDEX IF NOT EXISTS jobs_open ON jobs (target, seq) WHERE state IN ('pending', 'running', 'waiting')",
        // Predecessor check for per-key ordering.
        "CREATE INDEX IF NOT EXISTS jobs_key ON jobs (ordering_key, seq) WHERE state IN ('pending', 'running', 'waiting')",
        "CREATE INDEX IF NOT EXISTS jobs_due ON jobs (due_at) WHERE state IN ('pending', 'waiting')",
        // Suspects (a crash cut their run short): few, looked up on every claim round.
        "CREATE INDEX IF NOT EXISTS jobs_suspect ON jobs (due_at) WHERE state = 'pending' AND crashes > 0",
        "CREATE INDEX IF NOT EXISTS jobs_event ON jobs (event_seq)",
        "CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, updated_at)",
        """
        CREATE TABLE IF NOT EXISTS attempts (
            seq INTEGER PRIMARY KEY,
            job_seq INTEGER NOT NULL,
            step INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            latency_ms REAL NOT NULL,
            status INTEGER,
            outcome TEXT NOT NULL,
            error TEXT,
            request TEXT,
            response TEXT
        )
        """,
        "CREATE INDEX IF NOT EXISTS attempts_job ON attempts (job_seq)",
        """
        CREATE TABLE IF NOT EXISTS links (
            target TEXT NOT NULL,
            key TEXT NOT NULL,
            task_id TEXT NOT NULL,
            project_id TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (target, key)
        ) WITHOUT ROWID
        """,
        // GroupChat agent runs TaskBridge works (one row per run; `record` is the whole
        // AgentRunRecord as JSON, the other columns are what is queried).
        """
        CREATE TABLE IF NOT EXISTS agent_runs (
            run_id TEXT PRIMARY KEY,
            agent TEXT NOT NULL,
            phase TEXT NOT NULL,
            outcome TEXT,
            discovered_at INTEGER NOT NULL,
            started_at INTEGER,
            finished_at INTEGER,
            updated_at INTEGER NOT NULL,
            cost_usd REAL,
            -- Events of the run still to be stored (a done run with some is resumed).
            pending_events INTEGER NOT NULL DEFAULT 0,
            record TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX IF NOT EXISTS agent_runs_agent ON agent_runs (agent, phase, discovered_at)",
        "CREATE INDEX IF NOT EXISTS agent_runs_started ON agent_runs (agent, started_at)",
        // Every call made for a run, to GroupChat and to the backend.
        """
        CREATE TABLE IF NOT EXISTS agent_calls (
            seq INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            at INTEGER NOT NULL,
            api TEXT NOT NULL,
            request TEXT NOT NULL,
            status INTEGER,
            latency_ms REAL NOT NULL,
            response TEXT
        )
        """,
        "CREATE INDEX IF NOT EXISTS agent_calls_run ON agent_calls (run_id, seq)",
        """
        CREATE TABLE IF NOT EXISTS rule_versions (
            hash TEXT PRIMARY KEY,
            rule_id TEXT NOT NULL,
            file TEXT NOT NULL,
            json TEXT NOT NULL,
            first_seen INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
    ]
}
