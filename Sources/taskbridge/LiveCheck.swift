import AsyncHTTPClient
import Logging
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeTargets

/// `taskbridge check --live`: each target's connector looks up, read-only, what the
/// rules name, so a typo is found before a 3 a.m. alert dead-letters on it.
enum LiveCheck {
    static func run(_ loaded: ConfigLoader.Loaded, secrets: SecretResolver) async -> [Diagnostic] {
        let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                configuration: HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5))))
        var problems: [Diagnostic] = []
        var logger = Logger(label: "taskbridge.check")
        logger.logLevel = .critical
        for (name, target) in loaded.config.targets.sorted(by: { $0.key < $1.key }) {
            guard let kind = TargetKinds.named(target.kind) else { continue }
            let gate = TargetGate(name: name, concurrency: 4, rateLimit: target.rateLimit, breaker: target.breaker)
            let connector: any TargetConnector
            do {
                connector = try kind.connector(for: target, environment: ConnectorEnvironment(client: client, secrets: secrets, gate: gate,
                                                                                            logger: logger))
            } catch {
                problems.append(Diagnostic(file: loaded.configPath, path: "targets.\(name)", message: error.reason))
                continue
            }
            let steps = loaded.rules.rules.flatMap { rule in
                rule.steps.filter { $0.target == name }.map { LiveCheckStep(step: $0, file: rule.file) }
            }
            for p in await connector.liveCheck(steps) {
                problems.append(p.file.isEmpty ? Diagnostic(file: loaded.configPath, path: p.path, message: p.message) : p)
            }
        }
        for (name, agent) in loaded.config.agents.sorted(by: { $0.key < $1.key }) {
            if let problem = await checkAgent(agent, client: client, secrets: secrets) {
                problems.append(Diagnostic(file: loaded.configPath, path: "agents.\(name)", message: problem))
            }
        }
        try? await client.shutdown()
        return problems
    }

    /// The agent's token works (`GET /api/v1/agent/me`, read-only).
    static func checkAgent(_ agent: AgentConfig, client: HTTPClient, secrets: SecretResolver) async -> String? {
        guard case .value(let token)? = agent.token.map(secrets.resolve) else {
            if case .missing(let why)? = agent.token.map(secrets.resolve) { return "no agent token: \(why)" }
            return "no agent token"
        }
        guard token.text.hasPrefix("gca_") else { return "the token is not a GroupChat agent token (they start with gca_)" }
        guard let baseURL = agent.baseURL.resolve(secrets.environment), !baseURL.isEmpty else { return "no baseURL" }
        let api = GroupChatAgentClient(client: client, baseURL: baseURL, token: token, timeoutSeconds: agent.timeoutSeconds,
                                       gate: TargetGate(name: "agent:" + agent.name, concurrency: 1, rateLimit: nil, breaker: BreakerSettings()))
        do {
            let answer = try await api.me()
            switch answer.status {
            case 200 where answer.json?["agentUserId"]?.stringValue != nil: return nil
            case 401, 403: return "GroupChat refused the agent token (\(answer.status) on GET /api/v1/agent/me); create a new token in the agent's settings"
            default:
                let why = answer.json?["error"]?.stringValue ?? String(decoding: answer.body.prefix(200), as: UTF8.self)
                return "GET /api/v1/agent/me answered \(answer.status): \(why.prefix(200))"
            }
        } catch {
            return "cannot reach GroupChat at \(baseURL): \(error.reason)"
        }
    }
}
