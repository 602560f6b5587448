import AsyncHTTPClient
import Logging
import TaskBridgeCore
import TaskBridgeTargets

/// A configured target at run time: its gate (limits, breaker), retry policy and
/// connector, built by the target's kind. A target that cannot deliver (no token) has
/// no connector; its jobs wait (without spending attempts) and the reason is logged once.
struct TargetRuntime: Sendable {
    let config: TargetConfig
    let gate: TargetGate
    let policy: RetryPolicy
    let connector: (any TargetConnector)?
    let unavailableReason: String?

    init(config: TargetConfig, client: HTTPClient, secrets: SecretResolver, logger: Logger) {
        self.config = config
        self.policy = RetryPolicy(config.retry)
        self.gate = TargetGate(name: config.name, concurrency: config.concurrency, rateLimit: config.rateLimit, breaker: config.breaker)
        var reason: String?
        var connector: (any TargetConnector)?
        if let kind = TargetKinds.named(config.kind) {
            do {
                connector = try kind.connector(for: config, environment: ConnectorEnvironment(client: client, secrets: secrets, gate: gate,
                                                                                            logger: logger))
            } catch {
                reason = error.reason
            }
        } else {
            reason = "target \(config.name) has kind \(config.kind), which this build does not know"
        }
        if let reason { logger.error("\(reason)") }
        self.unavailableReason = reason
        self.connector = connector
    }
}

extension TargetRuntime {
    /// Reads the target's token again (a rotated `{"file": …}` secret) and, when it
    /// changed, uses it from the next request on and resumes a target paused on 401/403.
    /// Returns a line for the log when something changed.
    func reloadCredentials(secrets: SecretResolver) -> String? {
        guard let connector, connector.reloadCredentials(secrets: secrets) else { return nil }
        let resumed = gate.resumeAuthentication()
        return "target \(config.name): new credentials loaded" + (resumed ? "; deliveries resume" : "")
    }
}
