import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeStore
import TaskBridgeTargets
import UpstreamFakes

/// `taskbridge demo`: TaskBridge with no account anywhere. The GroupChat fake runs in
/// the process as the target, the example rules are loaded, and a few real provider
/// payloads are sent, so a newcomer sees events become tasks, stage moves and
/// completions in the console within seconds.
/// Writes a line to standard output at once (print is block-buffered into a pipe), so
/// what the demo says shows up as it happens.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Try TaskBridge without any account: fake GroupChat, sample webhooks, the web console.",
        discussion: "Runs until Ctrl-C. Its database lives in a temporary directory that is removed on exit unless --data-dir is given.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 8080
    @Option(name: .customLong("data-dir"), help: "Keep the demo's config and database here instead of a temporary directory.")
    var dataDir: String?
    @Option(name: .customLong("examples"), help: "The repository's examples/ folder (default: ./examples, or next to the binary).")
    var examples: String?
    @Flag(name: .customLong("no-samples"), help: "Start without sending the sample webhooks.")
    var noSamples = false

    func run() async throws {
        LoggingSetup.bootstrap(format: .text, level: .warning)
        var logger = Logger(label: "taskbridge")
        logger.logLevel = .warning
        guard let examplesDir = DemoSetup.findExamples(examples) else {
            printError("taskbridge demo needs the repository's examples/ folder (its rule files); run it from the repository root or pass --examples DIR")
            throw ExitCode(1)
        }
        let temporary = dataDir == nil
        let dir = dataDir ?? FileManager.default.temporaryDirectory.appendingPathComponent("taskbridge-demo-\(UUID().uuidString)").path
        defer { if temporary { try? FileManager.default.removeItem(atPath: dir) } }

        let fake = GroupChatFake(recordRequests: false)
        try await fake.start()
        fake.mutate { w in _ = try? w.createTask(["projectId": "proj_eng", "title": "Update the README with new information"], creator: "user_ada") }
        let readmeTask = fake.tasks.first?["id"]?.stringValue ?? "task_1"

        let setup = DemoSetup(directory: dir, examples: examplesDir, fakeURL: fake.baseURL)
        let loaded: ConfigLoader.Loaded
        do {
            loaded = try setup.writeConfig()
        } catch {
            printError("the demo's config could not be written or loaded in \(dir): \(error)")
            throw ExitCode(1)
        }
        let store = try await StoreOpener.open(loaded.config.storage, dataDirectory: dir + "/data", role: .server, logger: logger)
        let runtime = TaskBridgeRuntime(loaded: loaded, store: store, secrets: SecretResolver(environment: setup.environment), logger: logger)
        try await runtime.install(loaded.rules)
        let listening = AsyncStream<Int>.makeStream()
        let app = buildApplication(runtime: runtime, options: AppOptions(host: host, port: port)) { channel in
            listening.continuation.yield(channel.localAddress?.port ?? 0)
            listening.continuation.finish()
        }
        let noSamples = self.noSamples
        let host = self.host
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
                } catch {
                    printError("the demo could not listen on \(host):\(port): \(error); try --port 0")
                    listening.continuation.finish()
                    throw ExitCode(1)
                }
            }
            group.addTask {
                var bound: Int?
                for await p in listening.stream { bound = p }
                guard let bound else { return }
                let shown = host == "0.0.0.0" ? "127.0.0.1" : host
                let base = "http://\(shown):\(bound)\(loaded.config.server.pathPrefix)"
                say("""

                    TaskBridge demo is running.
                      Console:      \(base)/admin/
                      Admin token:  \(setup.adminToken)
                      GroupChat:    an in-process fake at \(fake.baseURL) (nothing leaves this machine)
                      Data:         \(dir)\(temporary ? " (removed on exit)" : "")
                    Sign in to the console with the token above. Press Ctrl-C to stop.
                    The widget is allowed on pages served from http://localhost:8000:
                      <script src="\(base)/widget.js" data-source="widget" async></script>

                    """)
                guard !noSamples else { return }
                let sender = DemoSender(base: base, setup: setup, runtime: runtime, fake: fake)
                await sender.sendSamples(readmeTask: readmeTask)
            }
            // The sender finishes first; the service runs until Ctrl-C or SIGTERM.
            try await group.waitForAll()
        }
    }
}
