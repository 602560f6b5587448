import ArgumentParser
import Foundation
import TaskBridgeCore
import UpstreamFakes

/// How long a delegated run waits before TaskBridge starts it, at the default agent
/// settings (pollSeconds 5): runs appear on the GroupChat fake at random moments, the
/// `taskbridge` binary picks them up, and each pickup is GroupChat's own record — the
/// start activity's time minus the run's creation time. Prints the distribution as JSON.
struct AgentPickup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent-pickup",
                                                    abstract: "Measure agent run pickup latency (appeared → started) against the fakes.")
    @Option(help: "The taskbridge binary.") var binary = ".build/debug/taskbridge"
    @Option(help: "Runs to create.") var runs = 40
    @Option(help: "Longest random gap between two new runs, in seconds.") var maxGap = 3.0
    @Option(help: "The agent's pollSeconds (5 is the default).") var pollSeconds = 5.0
    @Option(help: "The agent's concurrency (default 64, so no run waits for a slot: runs past the limit stay PENDING by design).")
    var concurrency = 64

    func run() async throws {
        let groupchat = GroupChatFake(recordRequests: true)
        let posthog = PostHogFake()
        try await groupchat.start()
        try await posthog.start()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-pickup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = """
        {"sources": {"sentry": {"kind": "sentry", "secrets": [{"env": "S"}]}},
         "targets": {"posthog": {"kind": "posthog", "baseURL": "\(posthog.baseURL)", "token": {"env": "PH"}, "projectId": 1}},
         "agents": {"coder": {"token": {"env": "AGENT"}, "baseURL": "\(groupchat.baseURL)", "pollSeconds": \(pollSeconds), "concurrency": \(concurrency),
                              "backend": {"target": "posthog", "repository": "acme/api"}}},
         "admin": {"token": null}, "rules": []}
        """
        try config.write(toFile: dir + "/taskbridge.json", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--config", dir + "/taskbridge.json", "--data-dir", dir + "/data", "--port", "0", "--log-level", "warning"]
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["S": "s", "PH": PostHogFake.personalKey, "AGENT": GroupChatFake.coderAgentToken]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        // The agent is up once it asked who it is.
        while !groupchat.requests.contains(where: { $0.path == "/api/v1/agent/me" && $0.status == 200 }) {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        var ids: [String] = []
        for n in 0..<runs {
            ids.append(groupchat.addAgentRun(agentUserId: "agent-coder01", taskId: "task_bench_\(n)", prompt: "Run \(n)"))
            try await Task.sleep(nanoseconds: Double.random(in: 0...maxGap).sleepNanoseconds(atMost: 60))
        }
        let deadline = Date().addingTimeInterval(pollSeconds * 4 + 60)
        var pickups: [Double] = []
        while Date() < deadline {
            pickups = ids.compactMap { id -> Double? in
                guard let run = groupchat.agentRun(id), let created = run["createdAt"]?.numberValue,
                      let start = run["activity"]?.arrayValue?.first(where: { $0["type"] == "agent_started" })?["createdAt"]?.numberValue
                else { return nil }
                return (start - created) / 1000
            }
            if pickups.count == ids.count { break }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        await groupchat.stop()
        await posthog.stop()
        let sorted = pickups.sorted()
        func pct(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            return (sorted[min(sorted.count - 1, Int((p * Double(sorted.count - 1)).rounded()))] * 1000).rounded() / 1000
        }
        let result: JSONValue = [
            "runs": .number(Double(ids.count)), "started": .number(Double(sorted.count)), "pollSeconds": .number(pollSeconds), "concurrency": .number(Double(concurrency)),
            "minSeconds": .number(pct(0)), "p50Seconds": .number(pct(0.5)), "p90Seconds": .number(pct(0.9)),
            "p99Seconds": .number(pct(0.99)), "maxSeconds": .number(pct(1)),
            "within10s": .number(Double(sorted.filter { $0 <= 10 }.count)),
        ]
        print(JSONWriter.serialize(result))
    }
}
