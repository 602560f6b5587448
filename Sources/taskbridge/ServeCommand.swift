import ArgumentParser
import Foundation
import Hummingbird
import Logging
import TaskBridgeCore
import TaskBridgeTargets
import TaskBridgeServer
import TaskBridgeStore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the service: receive webhooks, plan jobs, deliver them.",
        discussion: "Settings come from flags, then TASKBRIDGE_* environment variables, then the config file, then defaults (127.0.0.1:8080, ./data).")

    @OptionGroup var config: ConfigOption
    @OptionGroup var data: DataDirOption
    @Option(help: "Address to listen on (default: $TASKBRIDGE_HOST, server.host, or 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default: $TASKBRIDGE_PORT, server.port, or 8080).") var port: Int?
    @Option(name: .customLong("log-format"), help: "text or json (default: $TASKBRIDGE_LOG_FORMAT or logging.format).")
    var logFormat: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (default: $TASKBRIDGE_LOG_LEVEL or logging.level).")
    var logLevel: String?

    func run() async throws {
        MallocArenas.apply()
        let env = ProcessInfo.processInfo.environment
        let loaded = try config.load()
        let settings = loaded.config
        let formatText = logFormat ?? env["TASKBRIDGE_LOG_FORMAT"].flatMap { $0.isEmpty ? nil : $0 } ?? settings.logging.format.rawValue
        guard let format = LoggingSettings.Format(rawValue: formatText) else {
            throw ValidationError("log format \"\(formatText)\" is not text or json")
        }
        let levelText = logLevel ?? env["TASKBRIDGE_LOG_LEVEL"].flatMap { $0.isEmpty ? nil : $0 } ?? settings.logging.level
        guard let level = Logger.Level(rawValue: levelText) else { throw ValidationError("log level \"\(levelText)\" is not known") }
        LoggingSetup.bootstrap(format: format, level: level)
        let logger = Logger(label: "taskbridge")

        let host = host ?? env["TASKBRIDGE_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? settings.server.host ?? "127.0.0.1"
        var resolvedPort = settings.server.port ?? 8080
        if let text = env["TASKBRIDGE_PORT"], !text.isEmpty {
            guard let p = Int(text), (0...65_535).contains(p) else { throw ValidationError("TASKBRIDGE_PORT=\(text) is not a port number") }
            resolvedPort = p
        }
        if let port {
            guard (0...65_535).contains(port) else { throw ValidationError("--port \(port) is not a port number") }
            resolvedPort = port
        }
        let dataDir = data.resolve(settings)
        let listenPort = resolvedPort

        let store: any Store
        do {
            store = try await StoreOpener.open(settings.storage, dataDirectory: dataDir, role: .server, logger: logger)
        } catch {
            printError("cannot open the event store in \(StoreOpener.describe(settings.storage, dataDirectory: dataDir)): \(error)")
            throw ExitCode(1)
        }
        let runtime = TaskBridgeRuntime(loaded: loaded, store: store, logger: logger)
        try await runtime.install(loaded.rules)
        let app = buildApplication(runtime: runtime, options: AppOptions(host: host, port: listenPort)) { channel in
            logger.notice("TaskBridge listening", metadata: [
                "address": "http://\(host):\(channel.localAddress?.port ?? listenPort)\(settings.server.pathPrefix)",
                "config": "\(loaded.configPath)", "store": "\(settings.storage.kind.rawValue) \(StoreOpener.describe(settings.storage, dataDirectory: dataDir))", "rules": "\(loaded.rules.rules.count)",
                "sources": "\(settings.sources.keys.sorted().joined(separator: ","))",
            ])
        }
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the config and rule files; print every problem as file: json.path: reason.")

    @OptionGroup var config: ConfigOption

    @Flag(help: "Also ask every target, read-only, whether its token works and every name the rules write literally exists.")
    var live = false

    func run() async throws {
        let loaded = try config.load()
        let env = ProcessInfo.processInfo.environment
        let sources = loaded.config.sources.values.filter { $0.kind != .agent }.count
        let agents = loaded.config.agents.isEmpty ? "" : ", \(loaded.config.agents.count) agent(s)"
        print("\(loaded.configPath): ok — \(sources) source(s), \(loaded.config.targets.count) target(s)\(agents), "
              + "\(loaded.rules.rules.count) rule(s) in \(loaded.ruleFiles.count) file(s)")
        // Secrets are not validity problems (a source without one answers 503), but say so.
        let resolver = SecretResolver(environment: env)
        for (name, source) in loaded.config.sources.sorted(by: { $0.key < $1.key }) {
            for ref in source.secrets {
                if case .missing(let why) = resolver.resolve(ref) { print("note: source \(name): \(why)") }
            }
        }
        for (name, target) in loaded.config.targets.sorted(by: { $0.key < $1.key }) {
            if let ref = target.token, case .missing(let why) = resolver.resolve(ref) { print("note: target \(name): \(why)") }
        }
        for (name, agent) in loaded.config.agents.sorted(by: { $0.key < $1.key }) {
            if let ref = agent.token, case .missing(let why) = resolver.resolve(ref) { print("note: agent \(name): \(why)") }
        }
        if loaded.config.storage.kind == .postgres, let ref = loaded.config.storage.url, case .missing(let why) = resolver.resolve(ref) {
            print("note: storage.url: \(why); serve cannot start without the database URL")
        }
        guard live else { return }
        var problems = await LiveCheck.run(loaded, secrets: resolver)
        var database = ""
        if loaded.config.storage.kind == .postgres {
            // Read-only: a tool's open checks the schema version and never migrates.
            let place = StoreOpener.describe(loaded.config.storage, dataDirectory: "", secrets: resolver)
            var logger = Logger(label: "taskbridge.check")
            logger.logLevel = .critical
            do {
                let store = try await StoreOpener.open(loaded.config.storage, dataDirectory: "", role: .tool, secrets: resolver, logger: logger)
                let version = try await store.schemaVersion()
                try? await store.close()
                print("storage: \(place) answered; schema version \(version)")
                database = ", the database answered"
            } catch let e as StoreError where e.schemaBehind {
                print("note: storage: \(place): \(e.message)")
                database = ", the database answered"
            } catch {
                problems.append(Diagnostic(file: loaded.configPath, path: "storage", message: "\(place): \(error)"))
            }
        }
        for p in problems { print(p.description) }
        if !problems.isEmpty {
            print("\(problems.count) problem(s) found by asking the targets")
            throw ExitCode(1)
        }
        print("live: every target answered, every literal name resolves to exactly one thing" + (loaded.config.agents.isEmpty ? "" : ", every agent token works") + database)
    }
}
