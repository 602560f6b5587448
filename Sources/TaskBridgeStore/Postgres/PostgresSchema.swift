/// The PostgreSQL schema, as numbered migrations applied in order from an empty
/// database. Times are Unix milliseconds; JSON columns hold compact JSON text (the
/// store never queries into it). The shape mirrors ``SQLiteSchema`` so both stores run
/// the same job statements (``JobTransition``).
enum PostgresSchema {
    static var version: Int { migrations.count }

    /// Advisory lock classes (`pg_advisory_*lock(class, key)`); the exclusive holds use
    /// single 64-bit keys (``PostgresStore/exclusiveKey(_:)``), a space of their own.
    enum Lock {
        static let migrationClass: Int32 = 7310
        /// Per ordering key, held by the transactions that add jobs with the key so
        /// job seqs follow commit order within a key (see ``PostgresStore/ingest(_:)``).
        static let orderingKeyClass: Int32 = 7311
    }

    /// The notification channel that wakes idle dispatchers on other replicas.
    static let workChannel = "taskbridge_work"

    static let migrations: [[String]] = [
        // 1: events, jobs and their attempts, links, rule versions.
        [
            """
            CREATE TABLE events (
                seq BIGSERIAL PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                source TEXT NOT NULL,
                type TEXT NOT NULL,
                dedupe_key TEXT,
                received_at BIGINT NOT NULL,
                client_ip TEXT,
                headers TEXT NOT NULL,
                content_type TEXT NOT NULL,
                body BYTEA NOT NULL,
                status TEXT NOT NULL,
                CONSTRAINT events_dedupe UNIQUE (source, dedupe_key)
            )
            """,
            "CREATE INDEX events_received ON events (received_at)",
            """
            CREATE TABLE jobs (
                seq BIGSERIAL PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                event_seq BIGINT NOT NULL REFERENCES events (seq),
                rule_id TEXT NOT NULL,
                rule_version TEXT NOT NULL,
                target TEXT NOT NULL,
                ordering_key TEXT,
                captures TEXT NOT NULL,
                state TEXT NOT NULL,
                step INTEGER NOT NULL,
                outputs TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                due_at BIGINT NOT NULL,
                first_due_at BIGINT NOT NULL,
                lease_owner TEXT,
                lease_until BIGINT,
                uncertain INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                fence BIGINT NOT NULL DEFAULT 0,
                crashes INTEGER NOT NULL DEFAULT 0,
                solo INTEGER NOT NULL DEFAULT 0,
                generation INTEGER NOT NULL DEFAULT 0,
                wait_state TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX jobs_open ON jobs (target, seq) WHERE state IN ('pending', 'running', 'waiting')",
            "CREATE INDEX jobs_key ON jobs (ordering_key, seq) WHERE state IN ('pending', 'running', 'waiting')",
            "CREATE INDEX jobs_due ON jobs (due_at) WHERE state IN ('pending', 'waiting')",
            "CREATE INDEX jobs_suspect ON jobs (due_at) WHERE state = 'pending' AND crashes > 0",
            "CREATE INDEX jobs_running ON jobs (lease_until) WHERE state = 'running'",
            "CREATE INDEX jobs_event ON jobs (event_seq)",
            "CREATE INDEX jobs_state ON jobs (state, updated_at)",
            """
            CREATE TABLE attempts (
                seq BIGSERIAL PRIMARY KEY,
                job_seq BIGINT NOT NULL,
                step INTEGER NOT NULL,
                started_at BIGINT NOT NULL,
                latency_ms DOUBLE PRECISION NOT NULL,
                status INTEGER,
                outcome TEXT NOT NULL,
                error TEXT,
                request TEXT,
                response TEXT
            )
            """,
            "CREATE INDEX attempts_job ON attempts (job_seq)",
            """
            CREATE TABLE links (
                target TEXT NOT NULL,
                key TEXT NOT NULL,
                task_id TEXT NOT NULL,
                project_id TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (target, key)
            )
            """,
            """
            CREATE TABLE rule_versions (
                hash TEXT PRIMARY KEY,
                rule_id TEXT NOT NULL,
                file TEXT NOT NULL,
                json TEXT NOT NULL,
                first_seen BIGINT NOT NULL
            )
            """,
        ],
        // 2: GroupChat agent runs (deduped by run id) and every call made for them.
        [
            """
            CREATE TABLE agent_runs (
                run_id TEXT PRIMARY KEY,
                agent TEXT NOT NULL,
                phase TEXT NOT NULL,
                outcome TEXT,
                discovered_at BIGINT NOT NULL,
                started_at BIGINT,
                finished_at BIGINT,
                updated_at BIGINT NOT NULL,
                cost_usd DOUBLE PRECISION,
                pending_events INTEGER NOT NULL DEFAULT 0,
                record TEXT NOT NULL
            )
            """,
            "CREATE INDEX agent_runs_agent ON agent_runs (agent, phase, discovered_at)",
            "CREATE INDEX agent_runs_started ON agent_runs (agent, started_at)",
            """
            CREATE TABLE agent_calls (
                seq BIGSERIAL PRIMARY KEY,
                run_id TEXT NOT NULL,
                at BIGINT NOT NULL,
                api TEXT NOT NULL,
                request TEXT NOT NULL,
                status INTEGER,
                latency_ms DOUBLE PRECISION NOT NULL,
                response TEXT
            )
            """,
            "CREATE INDEX agent_calls_run ON agent_calls (run_id, seq)",
        ],
        // 3: the console's search by delivery id (a dedupe key without its source) and
        // its newest-first list of one source.
        [
            "CREATE INDEX IF NOT EXISTS events_dedupe_key ON events (dedupe_key)",
            "CREATE INDEX IF NOT EXISTS events_source ON events (source, seq)",
        ],
    ]
}
