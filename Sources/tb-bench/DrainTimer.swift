import ArgumentParser
import Foundation
import Logging
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeStore

/// Times how fast a running TaskBridge drains its backlog, reading the data directory
/// beside it, and samples the server's RSS while it works.
struct DrainTimer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "drain", abstract: "Measure backlog drain rate and RSS.")
    @Option(name: .customLong("data-dir")) var dataDir: String
    @Option(help: "Config whose store to watch (its PostgreSQL database); without it, the SQLite file in --data-dir.") var config: String?
    @Option(help: "Server process ids, for RSS samples (comma-separated: several replicas are summed).") var pid: String
    @Option(help: "Stop after this many seconds even if not drained.") var limit = 600.0
    @Option(help: "Stop once this many jobs have finished (0: wait for an empty queue).") var stopAfter = 0

    func run() async throws {
        var logger = Logger(label: "drain")
        logger.logLevel = .warning
        let store: any Store
        if let config {
            store = try await StoreOpener.open(try ConfigLoader.load(configPath: config).config.storage, dataDirectory: dataDir, role: .tool, logger: logger)
        } else {
            store = try await SQLiteStore.open(dataDirectory: dataDir, synchronous: .normal, exclusive: false, logger: logger)
        }
        let pids = pid.split(separator: ",").compactMap { Int32($0) }
        let initialOpen = try await store.openJobCount()
        let started = ContinuousClock.now
        var rss: [Int] = []
        var sampledAt: [Double] = []
        var finished = 0
        var elapsed = 0.0
        while true {
            try await Task.sleep(nanoseconds: 250_000_000)
            let open = try await store.openJobCount()
            finished = initialOpen - open
            let d = ContinuousClock.now - started
            elapsed = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            let samples = pids.compactMap(Self.rssKB)
            if samples.count == pids.count, !samples.isEmpty {
                rss.append(samples.reduce(0, +))
                sampledAt.append((elapsed * 100).rounded() / 100)
            }
            if open == 0 || (stopAfter > 0 && finished >= stopAfter) || elapsed >= limit { break }
        }
        try await store.close()
        let rate = Double(finished) / max(elapsed, 0.001)
        let result: [String: JSONValue] = [
            "jobs": .number(Double(finished)), "backlog": .number(Double(initialOpen)), "seconds": .number((elapsed * 100).rounded() / 100),
            "stepsPerSecond": .number(rate.rounded()), "rssMinKB": .number(Double(rss.min() ?? 0)), "rssMaxKB": .number(Double(rss.max() ?? 0)),
            "rssSamplesKB": .array(rss.map { .number(Double($0)) }), "rssSampleSeconds": .array(sampledAt.map(JSONValue.number)),
        ]
        print(JSONWriter.serialize(.object(result)))
    }

    static func rssKB(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }
}
