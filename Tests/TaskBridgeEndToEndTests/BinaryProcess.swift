import AsyncHTTPClient
import Foundation
import NIOCore
import TaskBridgeCore
import TaskBridgeTestSupport

/// The built `taskbridge` binary, run as a child process against a temporary config
/// and data directory — what an operator runs.
final class BinaryProcess: @unchecked Sendable {
    // @unchecked: `process` is configured before launch and afterwards only read from
    // the test's task; the captured output goes through `Mutex`es.
    let process = Process()
    let output = Locked<String>("")
    let portBox = Locked<Int?>(nil)

    static var executable: String {
        let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("taskbridge").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        return Fixtures.repositoryRoot + "/.build/debug/taskbridge"
    }

    /// Runs a one-shot command (`check`, `test`, …) and returns its exit code and output.
    /// Runs a command to its end. The wait happens on a thread of its own, not on the
    /// test's cooperative pool (two cores here: two blocked waits would stall every fake
    /// in the process, including the one the command is talking to).
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Int32, String), any Error>) in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runBlocking(arguments, environment: environment) })
            }
        }
    }

    static func runBlocking(_ arguments: [String], environment: [String: String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Starts `taskbridge serve` on a free port; ``waitUntilListening()`` waits until it listens.
    convenience init(config: String, dataDir: String, environment: [String: String]) throws {
        try self.init(arguments: ["serve", "--config", config, "--data-dir", dataDir, "--port", "0", "--log-format", "json"],
                      environment: environment, standardOutput: false)
    }

    /// Starts `taskbridge <arguments>`, collecting its standard error (and its standard
    /// output when `standardOutput`) in ``log``.
    init(arguments: [String], environment: [String: String], standardOutput: Bool = true) throws {
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = standardOutput ? pipe : FileHandle.nullDevice
        let out = output
        let port = portBox
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            // End of file (the process exited): stop the dispatch source now. Left set, it
            // fires on every turn of the event loop until the handle is freed under it.
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            let chunk = String(decoding: data, as: UTF8.self)
            out.withLock { $0 += chunk }
            guard port.withLock({ $0 == nil }) else { return }
            for line in out.withLock({ $0 }).split(separator: "\n") where line.contains("TaskBridge listening") {
                if let value = try? JSONParser.parse(String(line)), let address = value["address"]?.stringValue,
                   let p = address.split(separator: ":").last.flatMap({ Int($0.prefix { $0.isNumber }) }) {
                    port.withLock { $0 = p }
                }
            }
        }
        try process.run()
    }

    /// Waits for the listening line; fails with the process output if it never comes.
    func waitUntilListening() async throws -> Int {
        let ok = await eventually(30) { portBox.withLock { $0 } != nil || !process.isRunning }
        guard ok, let port = portBox.withLock({ $0 }) else {
            throw ProcessError(message: "taskbridge did not start:\n" + output.withLock { $0 })
        }
        return port
    }

    /// SIGKILL, and the wait for the exit on a thread of its own (see ``run(_:environment:)``).
    func kill9() async {
        kill(process.processIdentifier, SIGKILL)
        await exited()
    }

    /// SIGTERM, and the exit status once it has exited. The wait must not hold the test's
    /// cooperative pool: a graceful shutdown may still be talking to an in-process fake.
    func terminate() async -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        await exited()
        return process.terminationStatus
    }

    private func exited() async {
        let process = self.process
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }

    func signal(_ s: Int32) { kill(process.processIdentifier, s) }

    var log: String { output.withLock { $0 } }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

struct ProcessError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A temporary directory with a config pointing at `fakeURL`.
struct Workspace {
    let directory: String
    var configPath: String { directory + "/taskbridge.json" }
    var dataDir: String { directory + "/data" }

    init(fakeURL: String, extraConfig: String = "", rules: [String]? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/rules", withIntermediateDirectories: true)
        let globs = rules ?? Fixtures.groupChatExampleRules
        let config = """
        {
          "sources": {
            "github": {"kind": "github", "secrets": [{"env": "E2E_GH_SECRET"}]},
            "sentry": {"kind": "sentry", "secrets": [{"env": "E2E_SENTRY_SECRET"}]},
            "widget": {"kind": "widget"}
          },
          "targets": {
            "groupchat": {"kind": "groupchat", "baseURL": "\(fakeURL)", "token": {"env": "E2E_GC_TOKEN"}, "defaultProject": "Engineering",
                          "timeoutSeconds": 2, "concurrency": 2, "retry": {"initialDelaySeconds": 0.05, "maxDelaySeconds": 0.3}}
          },
          "delivery": {"pollIntervalSeconds": 0.2, "leaseSeconds": 30, "shutdownGraceSeconds": 5}\(extraConfig),
          "admin": {"token": {"env": "E2E_ADMIN_TOKEN"}},
          "rules": [\(globs.map { "\"\($0)\"" }.joined(separator: ","))]
        }
        """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    static let environment = [
        "E2E_GH_SECRET": "e2e-gh", "E2E_SENTRY_SECRET": "e2e-sentry", "E2E_GC_TOKEN": "gck_fake_workspace_key",
        "E2E_ADMIN_TOKEN": "e2e-admin",
    ]

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// Sends requests with async-http-client (many at once, real sockets).
struct WebClient {
    let client: HTTPClient
    let base: String

    func post(_ path: String, headers: [(String, String)], body: [UInt8]) async throws -> (Int, JSONValue) {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        for (n, v) in headers { request.headers.add(name: n, value: v) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONParser.parse(Array(buffer: bytes))) ?? .null)
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> (Int, JSONValue) {
        var request = HTTPClientRequest(url: base + path)
        for (n, v) in headers { request.headers.add(name: n, value: v) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), (try? JSONParser.parse(Array(buffer: bytes))) ?? .null)
    }
}
