/// The parsed service configuration (`config/taskbridge.json`). Secrets stay as
/// references here; they are resolved when the service starts.
public struct TaskBridgeConfig: Sendable {
    public var server = ServerSettings()
    public var storage = StorageSettings()
    public var sources: [String: SourceConfig] = [:]
    public var targets: [String: TargetConfig] = [:]
    /// GroupChat agents TaskBridge acts as; with any, `sources` holds the `agent` source.
    public var agents: [String: AgentConfig] = [:]
    /// Rule file paths or globs, relative to the config file's directory.
    public var rules: [String] = ["rules/*.json"]
    public var admin = AdminSettings()
    public var delivery = DeliverySettings()
    /// Every registered kind's actions (action name → the kinds that have it), so a rule
    /// naming an action its target lacks is told which kinds do.
    public var actionKinds: [String: [String]] = [:]
    public var retention = RetentionSettings()
    public var logging = LoggingSettings()

    public init() {}
}

public struct ServerSettings: Sendable {
    public var host: String?
    public var port: Int?
    /// Mount point when served under a sub-path behind a proxy, e.g. `/taskbridge`.
    public var pathPrefix = ""
    public var trustedProxies: [CIDR] = []
    /// The one header that names the client when the peer is a trusted proxy.
    public var forwardedHeader = ForwardedHeader.xForwardedFor
    /// Request bytes all requests together may hold in memory while their bodies arrive;
    /// past it, ingress answers 503 with Retry-After. At least the largest `maxBodyBytes`.
    public var maxBufferedBodyBytes = ServerSettings.defaultMaxBufferedBodyBytes
    public var idleTimeoutSeconds = 30.0
    /// Time a client gets to send a complete request head.
    public var headerTimeoutSeconds = 10.0
    /// Time a client gets to send a whole request, head and body.
    public var requestTimeoutSeconds = 30.0
    public var maxConnections = 2048
    public static let defaultMaxBufferedBodyBytes = 64 * 1024 * 1024
    public init() {}
}

public struct StorageSettings: Sendable {
    public enum Synchronous: String, Sendable { case full, normal }
    /// SQLite is the embedded single-process store; PostgreSQL lets any number of
    /// replicas share one database.
    public enum Kind: String, Sendable, CaseIterable { case sqlite, postgres }
    /// How the PostgreSQL connection uses TLS: `prefer` tries it and falls back to
    /// plain TCP (a loopback or socket server); `require` refuses plain TCP.
    public enum TLSMode: String, Sendable, CaseIterable { case disable, prefer, require }

    public var kind = Kind.sqlite
    public var dataDir: String?
    /// `full` fsyncs every commit (survives power loss); `normal` survives process
    /// crashes only. SQLite only.
    public var synchronous = Synchronous.full
    /// PostgreSQL: the connection URL (`postgres://user:password@host:5432/db`), a secret
    /// because it usually holds the password.
    public var url: SecretReference?
    /// PostgreSQL: connections per process.
    public var poolSize = 10
    public var tls = TLSMode.prefer
    public var connectTimeoutSeconds = 10.0
    public init() {}
}

public struct RateLimitSettings: Sendable, Hashable {
    public var burst: Int
    public var perSecond: Double

    public init(burst: Int, perSecond: Double) {
        self.burst = burst
        self.perSecond = perSecond
    }
}

public struct SourceConfig: Sendable {
    public var name: String
    public var kind: SourceKind
    /// Several secrets may be valid at once so they can be rotated without downtime.
    public var secrets: [SecretReference] = []
    public var maxBodyBytes: Int
    public var rateLimitPerClient: RateLimitSettings?
    public var rateLimitPerSource: RateLimitSettings?
    public var widget: WidgetSettings?

    public static let defaultMaxBodyBytes = 1 << 20
    /// GitHub caps webhook payloads at 25 MB.
    public static let maxBodyBytesLimit = 25 * 1024 * 1024

    public init(name: String, kind: SourceKind, maxBodyBytes: Int = SourceConfig.defaultMaxBodyBytes) {
        self.name = name
        self.kind = kind
        self.maxBodyBytes = maxBodyBytes
    }
}

public struct WidgetSettings: Sendable {
    /// Exact origins (`https://www.example.com`) allowed to post from a browser.
    public var allowedOrigins: [String] = []
    /// A form field humans never fill in; a submission that fills it is dropped.
    public var honeypotField: String? = "website"
    public var fieldLimits: [String: Int] = WidgetSettings.defaultFieldLimits
    public var extraFields: [String] = []

    public static let standardFields = ["message", "name", "email", "page"]
    public static let defaultFieldLimits = ["message": 5000, "name": 200, "email": 320, "page": 2048]
    public static let defaultExtraFieldLimit = 500

    public func limit(for field: String) -> Int {
        fieldLimits[field] ?? WidgetSettings.defaultExtraFieldLimit
    }

    public init() {}
}

/// A configured upstream account. The keys every kind shares are here; a kind's own
/// (a GroupChat workspace id, a PostHog project) are its ``settings``.
public struct TargetConfig: Sendable {
    public var name: String
    /// The kind's name (`groupchat`, …): see ``TargetKindParser``.
    public var kind: String
    public var baseURL: StringSetting
    public var token: SecretReference?
    public var timeoutSeconds = 15.0
    public var concurrency = 16
    public var rateLimit: RateLimitSettings?
    public var retry = RetrySettings()
    public var breaker = BreakerSettings()
    /// The web address of a task the target made, for the console's links.
    public var taskLink: TaskLinkTemplate?
    /// The kind's own settings, read by its parser; its connector casts them back.
    public var settings: any TargetSettings = NoTargetSettings()
    /// The step actions the kind executes, in the kind's order.
    public var actions: [ActionSpec] = []

    public func action(named name: String) -> ActionSpec? { actions.first { $0.name == name } }

    /// Keys every target accepts, whatever its kind.
    public static let commonKeys = ["kind", "baseURL", "token", "timeoutSeconds", "concurrency", "rateLimit", "retry", "breaker", "taskLink"]

    public init(name: String, kind: String, baseURL: String) {
        self.name = name
        self.kind = kind
        self.baseURL = StringSetting(literal: baseURL)
    }
}

public struct RetrySettings: Sendable, Hashable {
    public var maxAttempts = 400
    /// A step older than this is dead-lettered instead of retried. Three days rides out
    /// a day-long upstream outage with room to spare.
    public var maxAgeSeconds = 3.0 * 86_400
    public var initialDelaySeconds = 1.0
    public var maxDelaySeconds = 600.0
    /// Upper bound on how long a `Retry-After` answer may hold a job back.
    public var retryAfterCapSeconds = 3_600.0
    public init() {}
}

public struct BreakerSettings: Sendable, Hashable {
    public var failureThreshold = 10
    public var openSeconds = 30.0
    public init() {}
}

public struct AdminSettings: Sendable {
    public var token: SecretReference? = .env("TASKBRIDGE_ADMIN_TOKEN")
    public init() {}
}

public struct DeliverySettings: Sendable {
    /// Jobs held (claimed) at once across all targets.
    public var maxInFlight = 1024
    public var leaseSeconds = 60.0
    public var pollIntervalSeconds = 1.0
    /// On SIGTERM, in-flight steps get this long to finish before they are released.
    public var shutdownGraceSeconds = 10.0
    /// The poison-job guard: a job whose run a process crash cut short this many times
    /// (the last time while it ran alone) becomes a dead letter instead of crash-looping.
    public var maxCrashes = 3
    public init() {}
}

public struct RetentionSettings: Sendable {
    /// Delivered (and unmatched) events and their attempts are pruned after this many
    /// days; dead letters are kept until handled.
    public var days = 14.0
    public var pruneIntervalSeconds = 3_600.0
    public init() {}
}

public struct LoggingSettings: Sendable {
    public enum Format: String, Sendable { case text, json }
    public var format = Format.text
    public var level = "info"
    public init() {}
}
