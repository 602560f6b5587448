import TaskBridgeCore

/// GroupChat's own target settings.
public struct GroupChatSettings: TargetSettings {
    /// Needed with a personal access token (`gcp_…`).
    public var workspaceId: StringSetting?
    /// Project (id or name) for steps that do not name one.
    public var defaultProject: String?
    public var batchEnabled = true
    /// GroupChat accepts at most 200 operations per batch call.
    public var batchMaxOperations = 200
    /// How long resolved names (stages, projects, members, agents) are cached.
    public var directoryCacheSeconds = 300.0

    public init() {}
}

/// The GroupChat Workspace API as a target kind: `kind: "groupchat"`.
public struct GroupChatKind: TargetKind {
    public init() {}

    public let kind = "groupchat"
    public let defaultBaseURL = "https://groupchat.ai"
    public let settingKeys = ["workspaceId", "defaultProject", "batch", "directoryCacheSeconds"]

    static let updateFields = ["title", "description", "owner", "dueDate", "dueTime", "estimate"]
    static let numeric: Set<String> = ["dueDate", "dueTime", "estimate"]
    static let names: Set<String> = ["title", "stage", "owner", "agent", "project"]

    public let actions: [ActionSpec] = [
        ActionSpec("task.create", fields: ["project", "stage", "title", "description", "owner", "dueDate", "dueTime", "estimate", "link"],
                   required: ["title"], numeric: numeric, nonEmpty: names, needsTask: false, createsTask: true),
        ActionSpec("task.update", fields: ["task", "title", "description", "owner", "dueDate", "dueTime", "estimate", "project", "link"],
                   numeric: numeric, nonEmpty: names, nullable: ["description", "dueDate", "dueTime", "estimate", "owner"],
                   atLeastOneOf: updateFields, needsTask: true, batchable: true),
        ActionSpec("task.move", fields: ["task", "stage", "project", "link"], required: ["stage"], nonEmpty: names, needsTask: true,
                   batchable: true),
        ActionSpec("task.complete", fields: ["task", "link"], needsTask: true, batchable: true),
        ActionSpec("task.reopen", fields: ["task", "link"], needsTask: true, batchable: true),
        ActionSpec("task.assign", fields: ["task", "owner", "link"], required: ["owner"], nonEmpty: names, needsTask: true, batchable: true),
        ActionSpec("task.unassign", fields: ["task", "link"], needsTask: true, batchable: true),
        ActionSpec("agent.delegate", fields: ["task", "agent", "prompt", "link"], required: ["agent"], nonEmpty: names, needsTask: true),
    ]

    public func readSettings(_ o: JSONObjectNode) -> any TargetSettings {
        var s = GroupChatSettings()
        if let n = o.node("workspaceId") { s.workspaceId = StringSetting.read(n) }
        s.defaultProject = o.string("defaultProject")
        if let n = o.node("batch"), let b = n.object(allowed: ["enabled", "maxOperations"]) {
            if let v = b.bool("enabled") { s.batchEnabled = v }
            if let v = b.int("maxOperations", in: 1...200) { s.batchMaxOperations = v }
        }
        if let v = o.double("directoryCacheSeconds", in: 0...86_400) { s.directoryCacheSeconds = v }
        return s
    }

    static func settings(_ config: TargetConfig) -> GroupChatSettings {
        config.settings as? GroupChatSettings ?? GroupChatSettings()
    }

    public func connector(for config: TargetConfig, environment env: ConnectorEnvironment) throws(TargetUnavailable) -> any TargetConnector {
        let settings = Self.settings(config)
        guard let client = env.client else { throw TargetUnavailable("target \(config.name) has no HTTP client") }
        let token = try config.resolveToken(env.secrets)
        let credentials: GroupChatCredentials
        do {
            credentials = try GroupChatCredentials(token: token, workspaceId: settings.workspaceId?.resolve(env.secrets.environment))
        } catch {
            throw TargetUnavailable("target \(config.name): \(error.reason)")
        }
        let transport = HTTPGroupChatTransport(client: client, baseURL: config.baseURL.resolve(env.secrets.environment) ?? defaultBaseURL,
                                               credentials: credentials, timeoutSeconds: config.timeoutSeconds, gate: env.gate,
                                               wallClock: env.wallClock)
        return GroupChatConnector(config: config, transport: transport, wallClock: env.wallClock, live: transport)
    }

    public func dryRunConnector(for config: TargetConfig, environment env: ConnectorEnvironment, live: Bool,
                                log: RequestLog) -> any TargetConnector {
        let settings = Self.settings(config)
        let workspace = settings.workspaceId?.resolve(env.secrets.environment)
        let recorder = RecordingTransport(log: log, workspaceId: workspace)
        if live, let connector = try? connector(for: config, environment: env) as? GroupChatConnector {
            let both = TeeTransport(primary: connector.transport, recorder: recorder)
            return GroupChatConnector(target: config.name, transport: both,
                                      directory: GroupChatDirectory(transport: both, ttl: 60, wallClock: env.wallClock),
                                      defaultProject: settings.defaultProject, batcher: nil, wallClock: env.wallClock)
        }
        return GroupChatConnector(target: config.name, transport: recorder, directory: SymbolicNames(),
                                  defaultProject: settings.defaultProject, batcher: nil, wallClock: env.wallClock)
    }
}

/// Sends through `primary` and records each request too (for `--live` output).
struct TeeTransport: GroupChatTransport {
    let primary: any GroupChatTransport
    let recorder: RecordingTransport

    func send(_ request: GroupChatRequest) async throws(StepFailure) -> (GroupChatResponse, WireRecord) {
        _ = try await recorder.send(request)
        return try await primary.send(request)
    }
}
