import ArgumentParser
import UpstreamFakes
import TaskBridgeCore

/// A fast local GroupChat for delivery benchmarks: no request log, no chaos, and
/// `--tasks` tasks created up front (task_1 … task_N in project Engineering).
struct FakeTarget: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fake-groupchat", abstract: "Run the GroupChat fake for benchmarks.")
    @Option var host = "127.0.0.1"
    @Option var port = 8092
    @Option var tasks = 0
    @Option(name: .customLong("latency-ms"), help: "Answer every request this many milliseconds after applying it (an upstream across a network).")
    var latencyMs = 0.0
    @Flag(help: "Serve /_fake/refuse (POST {\"status\": 400}, DELETE) and GET /_fake/tasks, for the browser tests.")
    var control = false

    func run() async throws {
        var workspace = FakeWorkspace.standard()
        for i in 0..<tasks { _ = try? workspace.createTask(["projectId": "proj_eng", "title": .string("Bench task \(i + 1)")], creator: "api") }
        workspace.clearApplied()
        workspace.keepsAppliedLog = false
        let latency = max(0, min(latencyMs, 60_000)) / 1000
        let fake = GroupChatFake(workspace: workspace, chaos: FakeChaos(slow: latency > 0 ? 1 : 0, slowSeconds: latency), recordRequests: false, control: control)
        print("fake-groupchat: \(tasks) tasks, \(latencyMs) ms latency, listening on \(host):\(port)")
        try await fake.runForever(host: host, port: port)
    }
}
