import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import TaskBridgeCore

/// An open-loop load generator: requests are scheduled at a fixed rate and latency is
/// measured from the *scheduled* send time, so a stalled server is charged for the
/// requests it delayed (no coordinated omission). Each request is a signed GitHub
/// delivery with its own `X-GitHub-Delivery`.
struct FixedRate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rate", abstract: "Fixed-rate load with latency percentiles.")
    @Option var url: String
    @Option var rps = 1000.0
    @Option var duration = 15.0
    @Option var warmup = 3.0
    @Option var connections = 32
    @Option var body: String
    @Option var secret: String
    @Option var event = "pull_request"

    /// Rates and durations become request counts and nanosecond offsets; a zero, negative
    /// or non-finite value would trap those conversions.
    func validate() throws {
        guard rps.isFinite, rps > 0, rps <= 1_000_000 else { throw ValidationError("--rps must be greater than 0 and at most 1000000") }
        guard duration.isFinite, duration > 0, duration <= 86_400 else { throw ValidationError("--duration must be greater than 0 and at most 86400 seconds") }
        guard warmup.isFinite, warmup >= 0, warmup <= 86_400 else { throw ValidationError("--warmup must be 0 to 86400 seconds") }
        guard connections >= 1 else { throw ValidationError("--connections must be at least 1") }
    }

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: body) else { throw ValidationError("cannot read \(body)") }
        let bytes = [UInt8](data)
        let signature = "sha256=" + HMACSignature.sign(bytes, secret: Secret(secret))
        var pool = HTTPClient.Configuration.ConnectionPool()
        pool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
        let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                configuration: .init(timeout: .init(connect: .seconds(5)), connectionPool: pool))
        let latencies = Samples<Double>()
        let statuses = Samples<Int>()
        let total = Int((warmup + duration) * rps)
        let warm = Int(warmup * rps)
        let run = UUID().uuidString.prefix(8)
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<total {
                let scheduled = start + .nanoseconds(Int64(Double(i) / rps * 1e9))
                try? await Task.sleep(until: scheduled, clock: .continuous)
                group.addTask {
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.headers.add(name: "X-GitHub-Event", value: event)
                    request.headers.add(name: "X-GitHub-Delivery", value: "rate-\(run)-\(i)")
                    request.headers.add(name: "X-Hub-Signature-256", value: signature)
                    request.body = .bytes(ByteBuffer(bytes: bytes))
                    var status = 0
                    do {
                        let response = try await client.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        status = Int(response.status.code)
                    } catch {
                        status = -1
                    }
                    let d = ContinuousClock.now - scheduled
                    let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
                    if i >= warm {
                        latencies.append(ms)
                        statuses.append(status)
                    }
                }
            }
        }
        try await client.shutdown()
        let sorted = latencies.values.sorted()
        let counts = Dictionary(grouping: statuses.values, by: { $0 }).mapValues(\.count)
        func pct(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return (sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000).rounded() / 1000
        }
        let result: [String: JSONValue] = [
            "rps": .number(rps), "requests": .number(Double(sorted.count)),
            "statuses": .object(Dictionary(uniqueKeysWithValues: counts.map { (String($0.key), JSONValue.number(Double($0.value))) })),
            "p50ms": .number(pct(0.50)), "p90ms": .number(pct(0.90)), "p99ms": .number(pct(0.99)), "p999ms": .number(pct(0.999)),
            "maxms": .number(((sorted.last ?? 0) * 1000).rounded() / 1000),
        ]
        print(JSONWriter.serialize(.object(result)))
    }
}

/// Values appended from many tasks.
final class Samples<Value: Sendable>: Sendable {
    private let store = Mutex<[Value]>([])
    func append(_ v: Value) { store.withLock { $0.append(v) } }
    var values: [Value] { store.withLock { $0 } }
}
