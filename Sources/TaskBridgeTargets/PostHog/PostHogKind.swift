import TaskBridgeCore

/// PostHog's own target settings.
public struct PostHogSettings: TargetSettings {
    /// The numeric project (team) id every route is under: `/api/projects/{projectId}/…`.
    public var projectId: StringSetting?
    /// How often a waiting `posthog.task.run` polls: `initial` seconds after the run
    /// starts, growing by half each poll up to `max`.
    public var poll = PollSchedule()

    public init() {}
}

/// When a waiting run is polled: `initial` seconds after it starts, then 1.5 times longer
/// each poll, at most `max` (5 s, 7.5 s, 11 s, … 60 s by default), and never past the
/// wait's deadline.
public struct PollSchedule: Sendable, Hashable {
    public var initial = 5.0
    public var max = 60.0

    public init(initial: Double = 5, max: Double = 60) {
        self.initial = initial
        self.max = Swift.max(initial, max)
    }

    /// The wait before poll number `polls + 1`.
    public func interval(afterPolls polls: Int) -> Double {
        var v = initial
        for _ in 0..<Swift.min(Swift.max(0, polls), 64) where v < max { v *= 1.5 }
        return Swift.min(v, max)
    }
}

/// PostHog Tasks (coding agents that open pull requests) as a target kind:
/// `kind: "posthog"`. See `docs/targets-research.md` §1 for the contract.
public struct PostHogKind: TargetKind {
    public init() {}

    public let kind = "posthog"
    /// US Cloud; EU Cloud is `https://eu.posthog.com`, self-hosted its own domain.
    public let defaultBaseURL = "https://us.posthog.com"
    public let settingKeys = ["projectId", "poll"]

    static let taskFields = ["title", "description", "repository"]

    public let actions: [ActionSpec] = [
        ActionSpec("posthog.task.create", fields: ["title", "description", "repository", "origin_product", "github_integration", "link"],
                   required: ["title"], numeric: ["github_integration"], nonEmpty: ["title", "repository", "origin_product"],
                   needsTask: false, createsTask: true),
        ActionSpec("posthog.task.update", fields: ["task", "title", "description", "repository", "link"],
                   nonEmpty: ["title", "repository"], nullable: ["repository"], atLeastOneOf: taskFields, needsTask: true),
        ActionSpec("posthog.task.run", fields: ["task", "mode", "wait", "link"], numeric: ["wait.maxMinutes"],
                   objectFields: ["wait": ["until", "maxMinutes"]],
                   choices: ["mode": ["background", "interactive"], "wait.until": ["finished"]], needsTask: true),
    ]

    public func readSettings(_ o: JSONObjectNode) -> any TargetSettings {
        var s = PostHogSettings()
        if let n = o.required("projectId") {
            switch n.value {
            case .number:
                if let id = n.int(in: 1...Int(Int32.max)) { s.projectId = StringSetting(literal: String(id)) }
            case .string(let text):
                if Self.isProjectId(text) {
                    s.projectId = StringSetting(literal: text)
                } else {
                    n.report("expected the numeric project id (the number in PostHog's /project/<id>/ URLs), found \"\(text.prefix(40))\"")
                }
            case .object:
                s.projectId = StringSetting.read(n)
            default:
                n.report("expected a project id (a number, a string of digits or {\"env\": …}), found \(n.value.typeName)")
            }
        }
        if let n = o.node("poll"), let p = n.object(allowed: ["initialSeconds", "maxSeconds"]) {
            let initial = p.double("initialSeconds", in: 0.05...3600) ?? s.poll.initial
            let max = p.double("maxSeconds", in: 0.05...3600) ?? Swift.max(initial, s.poll.max)
            if max < initial { p.report("maxSeconds must be at least initialSeconds") }
            s.poll = PollSchedule(initial: initial, max: max)
        }
        return s
    }

    static func isProjectId(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 12 && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    static func settings(_ config: TargetConfig) -> PostHogSettings {
        config.settings as? PostHogSettings ?? PostHogSettings()
    }

    static func projectId(_ config: TargetConfig, _ environment: [String: String]) throws(TargetUnavailable) -> String {
        guard let setting = settings(config).projectId, let id = setting.resolve(environment) else {
            throw TargetUnavailable("target \(config.name) has no projectId (\(settings(config).projectId?.env.map { "environment variable \($0) is not set" } ?? "not configured"))")
        }
        guard isProjectId(id) else { throw TargetUnavailable("target \(config.name): projectId must be the numeric project id") }
        return id
    }

    public func connector(for config: TargetConfig, environment env: ConnectorEnvironment) throws(TargetUnavailable) -> any TargetConnector {
        guard let client = env.client else { throw TargetUnavailable("target \(config.name) has no HTTP client") }
        let token = try config.resolveToken(env.secrets)
        let projectId = try Self.projectId(config, env.secrets.environment)
        let transport = HTTPPostHogTransport(client: client, baseURL: config.baseURL.resolve(env.secrets.environment) ?? defaultBaseURL,
                                             token: token, timeoutSeconds: config.timeoutSeconds, gate: env.gate)
        var connector = PostHogConnector(target: config.name, projectId: projectId, transport: transport,
                                         poll: Self.settings(config).poll, wallClock: env.wallClock)
        connector.live = transport
        connector.config = config
        return connector
    }

    public func dryRunConnector(for config: TargetConfig, environment env: ConnectorEnvironment, live: Bool,
                                log: RequestLog) -> any TargetConnector {
        let recorder = PostHogRecordingTransport(log: log)
        let projectId = (try? Self.projectId(config, env.secrets.environment)) ?? "<projectId>"
        let poll = Self.settings(config).poll
        if live, let connector = try? connector(for: config, environment: env) as? PostHogConnector {
            return PostHogConnector(target: config.name, projectId: projectId,
                                    transport: PostHogTeeTransport(primary: connector.transport, recorder: recorder),
                                    poll: poll, wallClock: env.wallClock)
        }
        return PostHogConnector(target: config.name, projectId: projectId, transport: recorder, poll: poll, wallClock: env.wallClock)
    }
}
