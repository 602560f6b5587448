import TaskBridgeCore

/// Zylon's own target settings.
public struct ZylonSettings: TargetSettings {
    /// Sent as `x-org` on every request: the organisation's slug or UUID.
    public var org: StringSetting?
    /// Project id for `zylon.chat` steps that name none.
    public var project: String?
    /// A chat may take as long as the model needs to answer: unless the target sets
    /// `timeoutSeconds`, Zylon requests get this long.
    public var timeoutSeconds: Double?

    public init() {}
}

/// Zylon's Workspace API (project-scoped chat) as a target kind: `kind: "zylon"`.
/// Zylon is self-hosted: there is no public API to default to, so `baseURL` is required
/// (docs/targets-research.md §2.1).
public struct ZylonKind: TargetKind {
    public init() {}

    public let kind = "zylon"
    public let defaultBaseURL = ""
    public let settingKeys = ["org", "project"]

    /// The request timeout when the target sets none (the common default, 15 s, is short
    /// for a model's answer, and a chat that times out cannot be sent again).
    public static let defaultTimeoutSeconds = 120.0

    public let actions: [ActionSpec] = [
        ActionSpec("zylon.chat", fields: ["project", "message", "system", "maxTokens", "temperature", "allArtifacts", "maxMinutes"],
                   required: ["message"], numeric: ["maxTokens", "temperature", "maxMinutes"], boolean: ["allArtifacts"],
                   nonEmpty: ["project", "message"],
                   needsTask: false),
    ]

    public func readSettings(_ o: JSONObjectNode) -> any TargetSettings {
        var s = ZylonSettings()
        if !o.has("baseURL") {
            o.report("missing required key \"baseURL\": Zylon is self-hosted, so there is no default (e.g. \"https://zylon.example.com\")")
        }
        if let n = o.required("org") { s.org = StringSetting.read(n) }
        s.project = o.string("project")
        if !o.has("timeoutSeconds") { s.timeoutSeconds = Self.defaultTimeoutSeconds }
        return s
    }

    static func settings(_ config: TargetConfig) -> ZylonSettings {
        config.settings as? ZylonSettings ?? ZylonSettings()
    }

    public func connector(for config: TargetConfig, environment env: ConnectorEnvironment) throws(TargetUnavailable) -> any TargetConnector {
        let settings = Self.settings(config)
        guard let client = env.client else { throw TargetUnavailable("target \(config.name) has no HTTP client") }
        let token = try config.resolveToken(env.secrets)
        guard let baseURL = config.baseURL.resolve(env.secrets.environment), !baseURL.isEmpty else {
            throw TargetUnavailable("target \(config.name) has no baseURL (Zylon is self-hosted); its jobs wait until one is set")
        }
        guard let org = settings.org?.resolve(env.secrets.environment), !org.isEmpty else {
            throw TargetUnavailable("target \(config.name) has no org (sent as x-org); its jobs wait until one is set")
        }
        let transport = HTTPZylonTransport(client: client, baseURL: baseURL, credentials: ZylonCredentials(token: token, org: org),
                                           timeoutSeconds: settings.timeoutSeconds ?? config.timeoutSeconds, gate: env.gate)
        var connector = ZylonConnector(target: config.name, transport: transport, defaultProject: settings.project,
                                       wallClock: env.wallClock, live: transport)
        connector.config = config
        return connector
    }

    public func dryRunConnector(for config: TargetConfig, environment env: ConnectorEnvironment, live: Bool,
                                log: RequestLog) -> any TargetConnector {
        let settings = Self.settings(config)
        let recorder = ZylonDryRunTransport(log: log, org: settings.org?.resolve(env.secrets.environment))
        if live, let connector = try? connector(for: config, environment: env) as? ZylonConnector {
            return ZylonConnector(target: config.name, transport: ZylonTeeTransport(primary: connector.transport, recorder: recorder),
                                  defaultProject: settings.project, wallClock: env.wallClock)
        }
        return ZylonConnector(target: config.name, transport: recorder, defaultProject: settings.project, wallClock: env.wallClock)
    }
}
