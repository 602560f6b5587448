import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTargets

/// How to run one TaskBridge instance. Tests build the same application the CLI runs.
public struct AppOptions: Sendable {
    public var host: String
    public var port: Int
    /// Run the dispatcher (tests of ingress alone turn it off).
    public var dispatcher = true
    /// Poll rule files for changes.
    public var watchRules = true

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// Builds the HTTP application with its services: the store, the dispatcher, the agent
/// runners, the housekeeper and the rule reloader. Shutdown runs in reverse: the listener stops
/// accepting first, the dispatcher drains, and the store closes last.
public func buildApplication(runtime: TaskBridgeRuntime, options: AppOptions,
                             onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) -> some ApplicationProtocol {
    let config = runtime.config
    let prefix = config.server.pathPrefix
    let router = Router(context: TaskBridgeRequestContext.self)
    router.add(middleware: JSONErrorMiddleware())
    IngressController(runtime: runtime).register(on: router, prefix: prefix)
    AdminController(runtime: runtime).register(on: router, prefix: prefix)
    ConsoleController(runtime: runtime, prefix: prefix).register(on: router)
    WidgetController(runtime: runtime).register(on: router, prefix: prefix)
    let health = HealthController(runtime: runtime)
    health.register(on: router, prefix: "")
    if !prefix.isEmpty { health.register(on: router, prefix: prefix) }

    var services: [any Service] = [StoreService(store: runtime.store)]
    var dispatcher: Dispatcher?
    if options.dispatcher {
        let d = Dispatcher(runtime: runtime)
        dispatcher = d
        services.append(d)
        if !config.agents.isEmpty { services.append(AgentService(runtime: runtime, dispatcher: d)) }
    }
    services.append(Housekeeper(runtime: runtime, dispatcher: dispatcher))
    if options.watchRules { services.append(RuleReloader(runtime: runtime)) }

    let server = config.server
    let deadlines = RequestDeadlineHandler.self
    let http1 = HTTP1Channel.Configuration(
        additionalChannelHandlers: [deadlines.init(
            firstHeadDeadline: .milliseconds(Int64(server.headerTimeoutSeconds * 1000)),
            nextHeadDeadline: .milliseconds(Int64((server.idleTimeoutSeconds + server.headerTimeoutSeconds) * 1000)),
            requestDeadline: .milliseconds(Int64(server.requestTimeoutSeconds * 1000)))],
        idleTimeout: .milliseconds(Int64(server.idleTimeoutSeconds * 1000)))
    return Application(
        router: router,
        server: .http1(configuration: http1),
        configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil, backlog: 1024,
                             availableConnectionsDelegate: MaximumAvailableConnections(server.maxConnections)),
        services: services,
        onServerRunning: onServerRunning,
        logger: runtime.logger)
}
