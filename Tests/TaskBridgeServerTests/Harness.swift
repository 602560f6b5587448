import Foundation
import UpstreamFakes
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import TaskBridgeCore
import TaskBridgeTargets
import TaskBridgeServer
import TaskBridgeStore
import TaskBridgeTestSupport

/// Secrets the test configs read. Never real values.
enum TestEnv {
    static let githubSecret = "gh-test-secret"
    static let githubOldSecret = "gh-old-secret"
    static let sentrySecret = "sentry-test-secret"
    static let adminToken = "admin-test-token"

    static let values: [String: String] = [
        "TEST_GH_SECRET": githubSecret, "TEST_GH_SECRET_OLD": githubOldSecret, "TEST_SENTRY_SECRET": sentrySecret,
        "TEST_GC_TOKEN": GroupChatFake.workspaceKey, "TEST_ADMIN_TOKEN": adminToken,
    ]
}

/// A running TaskBridge (real listener, real SQLite file) for one test.
struct Bridge: Sendable {
    let runtime: TaskBridgeRuntime
    let client: any TestClientProtocol
    let fake: GroupChatFake?
    let directory: String

    var store: any Store { runtime.store }

    @discardableResult
    func post(_ path: String, _ headers: [(String, String)], _ body: [UInt8]) async throws -> TestResponse {
        var fields = HTTPFields()
        for (n, v) in headers { fields.append(HTTPField(name: HTTPField.Name(n)!, value: v)) }
        return try await client.execute(uri: path, method: .post, headers: fields, body: ByteBuffer(bytes: body))
    }

    func get(_ path: String, _ headers: [(String, String)] = []) async throws -> TestResponse {
        var fields = HTTPFields()
        for (n, v) in headers { fields.append(HTTPField(name: HTTPField.Name(n)!, value: v)) }
        return try await client.execute(uri: path, method: .get, headers: fields)
    }

    func github(_ body: [UInt8], event: String, delivery: String, secret: String = TestEnv.githubSecret) async throws -> TestResponse {
        try await post("/hooks/github", Signed.github(body, secret: secret, event: event, delivery: delivery), body)
    }

    func sentry(_ body: [UInt8], resource: String, requestID: String) async throws -> TestResponse {
        try await post("/hooks/sentry", Signed.sentry(body, secret: TestEnv.sentrySecret, resource: resource, requestID: requestID), body)
    }
}

extension TestResponse {
    var json: JSONValue { (try? JSONParser.parse(Array(buffer: body))) ?? .null }
    var text: String { String(buffer: body) }
}

/// The default test config: three sources, one GroupChat target pointing at the fake,
/// and the repository's example rules unless `rules` are given.
func testConfig(server: String = "{}", widget: String = "", sources extra: String = "", target: String = "",
                rules: [String]? = nil) -> String {
    let ruleGlobs = rules ?? Fixtures.groupChatExampleRules
    return """
    {
      "server": \(server),
      "sources": {
        "github": {"kind": "github", "secrets": [{"env": "TEST_GH_SECRET"}, {"env": "TEST_GH_SECRET_OLD"}], "maxBodyBytes": 65536},
        "sentry": {"kind": "sentry", "secrets": [{"env": "TEST_SENTRY_SECRET"}]},
        "widget": {"kind": "widget", "allowedOrigins": ["https://www.example.com"]\(widget)}\(extra)
      },
      "targets": {
        "groupchat": {"kind": "groupchat", "baseURL": "{{FAKE}}", "token": {"env": "TEST_GC_TOKEN"},
                      "defaultProject": "Engineering", "directoryCacheSeconds": 60,
                      "retry": {"initialDelaySeconds": 0.02, "maxDelaySeconds": 0.2}\(target)}
      },
      "delivery": {"pollIntervalSeconds": 0.1, "shutdownGraceSeconds": 2},
      "admin": {"token": {"env": "TEST_ADMIN_TOKEN"}},
      "rules": [\(ruleGlobs.map { "\"\($0)\"" }.joined(separator: ", "))]
    }
    """
}

/// `directory`: run in this directory and keep it (a second call on it is a restart);
/// by default a fresh one is made and removed afterwards.
func withBridge(config: String = testConfig(), ruleFiles: [String: String] = [:], env: [String: String] = TestEnv.values,
                fake: GroupChatFake? = nil, dispatcher: Bool = false, directory: String? = nil,
                _ test: @Sendable (Bridge) async throws -> Void) async throws {
    let dir = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("tb-server-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir + "/rules", withIntermediateDirectories: true)
    defer { if directory == nil { try? FileManager.default.removeItem(atPath: dir) } }
    if let fake, fake.port == 0 { try await fake.start() }
    let text = config.replacingOccurrences(of: "{{FAKE}}", with: fake?.baseURL ?? "http://127.0.0.1:9")
    try text.write(toFile: dir + "/taskbridge.json", atomically: true, encoding: .utf8)
    for (name, content) in ruleFiles { try content.write(toFile: dir + "/rules/" + name, atomically: true, encoding: .utf8) }
    let loaded = try ConfigLoader.load(configPath: dir + "/taskbridge.json")
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    let store = try await SQLiteStore.open(dataDirectory: dir + "/data", synchronous: .normal, logger: logger)
    let runtime = TaskBridgeRuntime(loaded: loaded, store: store, secrets: SecretResolver(environment: env), logger: logger)
    try await runtime.install(loaded.rules)
    var options = AppOptions(host: "127.0.0.1", port: 0)
    options.dispatcher = dispatcher
    options.watchRules = false
    let app = buildApplication(runtime: runtime, options: options)
    try await app.test(.live) { client in
        try await test(Bridge(runtime: runtime, client: client, fake: fake, directory: dir))
    }
    await fake?.stop()
}
