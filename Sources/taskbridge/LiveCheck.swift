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
        try? await client.shutdown()
        return problems
    }
}
