import Foundation
import TaskBridgeCore
import TaskBridgeServer
import UpstreamFakes

/// The demo's config file, secrets and admin token: generated for this run, written
/// into its directory, and handed to the runtime without touching the environment.
struct DemoSetup: Sendable {
    let directory: String
    let examples: String
    let fakeURL: String
    let adminToken = Hex.randomToken(bytes: 24)
    let githubSecret = Hex.randomToken(bytes: 24)
    let sentrySecret = Hex.randomToken(bytes: 24)

    var environment: [String: String] {
        ["DEMO_GITHUB_SECRET": githubSecret, "DEMO_SENTRY_SECRET": sentrySecret,
         "DEMO_GROUPCHAT_TOKEN": GroupChatFake.workspaceKey, "DEMO_ADMIN_TOKEN": adminToken]
    }

    /// `--examples`, else `./examples`, else the folder next to the binary's repository
    /// (`.build/debug/taskbridge` → `examples/`) or the container image's `/app/examples`.
    static func findExamples(_ given: String?) -> String? {
        let binary = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = given.map { [$0] } ?? [
            FileManager.default.currentDirectoryPath + "/examples",
            binary.appendingPathComponent("../../../examples").standardized.path,
            binary.appendingPathComponent("examples").path,
            "/app/examples",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/sentry-to-tasks/rules.json") }
            .map { URL(fileURLWithPath: $0).standardized.path }
    }

    static let ruleFiles = ["sentry-to-tasks/rules.json", "github-pr-flow/rules.json", "website-feedback/rules.json"]

    func configText() -> String {
        let rules = Self.ruleFiles.map { "\"\(examples)/\($0)\"" }.joined(separator: ", ")
        return """
        {
          "server": {"host": "127.0.0.1"},
          "sources": {
            "github": {"kind": "github", "secrets": [{"env": "DEMO_GITHUB_SECRET"}]},
            "sentry": {"kind": "sentry", "secrets": [{"env": "DEMO_SENTRY_SECRET"}]},
            "widget": {"kind": "widget", "allowedOrigins": ["http://127.0.0.1:8000", "http://localhost:8000"], "honeypotField": "website"}
          },
          "targets": {
            "groupchat": {"kind": "groupchat", "baseURL": "\(fakeURL)", "token": {"env": "DEMO_GROUPCHAT_TOKEN"},
                          "defaultProject": "Engineering", "retry": {"initialDelaySeconds": 1, "maxDelaySeconds": 10}}
          },
          "delivery": {"pollIntervalSeconds": 0.2},
          "admin": {"token": {"env": "DEMO_ADMIN_TOKEN"}},
          "rules": [\(rules)]
        }
        """
    }

    func writeConfig() throws -> ConfigLoader.Loaded {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/taskbridge.json"
        try configText().write(toFile: path, atomically: true, encoding: .utf8)
        return try ConfigLoader.load(configPath: path)
    }
}
