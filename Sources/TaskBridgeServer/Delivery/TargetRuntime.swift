import AsyncHTTPClient
import Logging
import TaskBridgeCore
import TaskBridgeTargets

/// A configured target at run time: its gate (limits, breaker), retry policy and
/// connector. A target without credentials has no connector; its jobs wait (without
/// spending attempts) and the reason is logged once.
struct TargetRuntime: Sendable {
    let config: TargetConfig
    let gate: TargetGate
    let policy: RetryPolicy
    let connector: GroupChatConnector?
    let unavailableReason: String?
    /// The live transport, whose credentials a reload may replace.
    let liveTransport: HTTPGroupChatTransport?

    init(config: TargetConfig, client: HTTPClient, secrets: SecretResolver, logger: Logger,
         transportOverride: (any GroupChatTransport)? = nil) {
        self.config = config
        self.policy = RetryPolicy(config.retry)
        self.gate = TargetGate(name: config.name, concurrency: config.concurrency, rateLimit: config.rateLimit, breaker: config.breaker)
        let wall: @Sendable () -> Double = { Double(WallClock.nowMillis()) / 1000 }
        var reason: String?
        var transport: (any GroupChatTransport)? = transportOverride
        var live: HTTPGroupChatTransport?
        if transport == nil {
            let token: Secret?
            switch config.token.map(secrets.resolve) {
            case .value(let s)?: token = s
            case .missing(let why)?: token = nil; reason = "target \(config.name) has no token (\(why)); its jobs wait until one is set"
            case nil: token = nil; reason = "target \(config.name) has no token configured"
            }
            let workspace = config.workspaceId?.resolve(secrets.environment)
            let baseURL = config.baseURL.resolve(secrets.environment) ?? "https://groupchat.ai"
            if let token {
                do {
                    let credentials = try GroupChatCredentials(token: token, workspaceId: workspace)
                    live = HTTPGroupChatTransport(client: client, baseURL: baseURL, credentials: credentials,
                                                  timeoutSeconds: config.timeoutSeconds, gate: gate, wallClock: wall)
                    transport = live
                } catch {
                    reason = "target \(config.name): \(error.reason)"
                }
            }
        }
        if let reason { logger.error("\(reason)") }
        self.unavailableReason = reason
        self.liveTransport = live
        if let transport {
            let directory = GroupChatDirectory(transport: transport, ttl: config.directoryCacheSeconds, wallClock: wall)
            let batcher = config.batch.enabled
                ? BatchCoalescer(transport: transport, maxOperations: config.batch.maxOperations,
                                 callSeconds: config.timeoutSeconds + 1, wallClock: wall) : nil
            connector = GroupChatConnector(target: config.name, transport: transport, directory: directory,
                                           defaultProject: config.defaultProject, batcher: batcher, wallClock: wall)
        } else {
            connector = nil
        }
    }
}

extension TargetRuntime {
    /// Reads the target's token again (a rotated `{"file": …}` secret) and, when it
    /// changed, uses it from the next request on and resumes a target paused on 401/403.
    /// Returns a line for the log when something changed.
    func reloadCredentials(secrets: SecretResolver) -> String? {
        guard let liveTransport, case .value(let token)? = config.token.map(secrets.resolve),
              let credentials = try? GroupChatCredentials(token: token, workspaceId: config.workspaceId?.resolve(secrets.environment))
        else { return nil }
        guard liveTransport.replaceCredentials(credentials) else { return nil }
        let resumed = gate.resumeAuthentication()
        return "target \(config.name): new credentials loaded" + (resumed ? "; deliveries resume" : "")
    }
}
