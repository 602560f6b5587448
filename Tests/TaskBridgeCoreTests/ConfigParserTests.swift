import Testing
@testable import TaskBridgeCore
import TaskBridgeTargets

@Suite("ConfigParser")
struct ConfigParserTests {
    static let file = "taskbridge.json"
    static let github = #""github": {"kind": "github", "secrets": [{"env": "GITHUB_WEBHOOK_SECRET"}]}"#

    /// The `file: path: message` lines for `text`, or `[]` when it parses.
    static func diagnostics(_ text: String) -> [String] {
        do {
            _ = try ConfigParser.parse(Array(text.utf8), file: file, kinds: TargetKinds.all)
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    static func parse(_ text: String) throws -> TaskBridgeConfig {
        try ConfigParser.parse(Array(text.utf8), file: file, kinds: TargetKinds.all)
    }

    /// A config whose only source is the given one (named by its JSON member text).
    static func withSource(_ member: String) -> String {
        #"{"sources": {"# + member + "}}"
    }

    static func widget(_ extra: String) -> String {
        withSource(#""widget": {"kind": "widget""# + (extra.isEmpty ? "" : ", " + extra) + "}")
    }

    // MARK: The shipped config

    @Test func shippedConfigParses() throws {
        let c = try Fixtures.shippedConfig()
        #expect(c.server.host == "127.0.0.1")
        #expect(c.server.port == 8080)
        #expect(c.server.pathPrefix == "")
        #expect(c.server.trustedProxies.map(\.description) == ["127.0.0.1/32", "::1/128"])
        #expect(c.sources.keys.sorted() == ["github", "sentry", "widget"])

        let github = try #require(c.sources["github"])
        #expect(github.kind == .github)
        #expect(github.secrets == [.env("GITHUB_WEBHOOK_SECRET")])
        #expect(github.maxBodyBytes == 26_214_400)
        #expect(github.widget == nil)

        let sentry = try #require(c.sources["sentry"])
        #expect(sentry.kind == .sentry)
        #expect(sentry.secrets == [.env("SENTRY_CLIENT_SECRET")])
        #expect(sentry.maxBodyBytes == 1_048_576)

        let widget = try #require(c.sources["widget"])
        #expect(widget.kind == .widget)
        #expect(widget.secrets == [])
        #expect(widget.maxBodyBytes == 65_536)
        #expect(widget.widget?.allowedOrigins == ["http://localhost:3000"])
        #expect(widget.widget?.honeypotField == "website")
        #expect(widget.rateLimitPerClient == RateLimitSettings(burst: 5, perSecond: 10.0 / 60))
        #expect(widget.rateLimitPerSource == RateLimitSettings(burst: 100, perSecond: 10))

        let target = try #require(c.targets["groupchat"])
        #expect(target.kind == "groupchat")
        #expect(target.baseURL == StringSetting(env: "GROUPCHAT_BASE_URL", fallback: "https://groupchat.ai"))
        #expect(target.token == .env("GROUPCHAT_TOKEN"))
        #expect((target.settings as? GroupChatSettings)?.workspaceId == StringSetting(env: "GROUPCHAT_WORKSPACE_ID"))
        #expect((target.settings as? GroupChatSettings)?.defaultProject == "Engineering")
        #expect(target.retry == RetrySettings())
        #expect(c.rules == ["../examples/sentry-to-tasks/rules.json", "../examples/github-pr-flow/rules.json",
                            "../examples/website-feedback/rules.json"])
        #expect(c.admin.token == .env("TASKBRIDGE_ADMIN_TOKEN"))
    }

    @Test func aPostgresStoreIsRead() throws {
        let c = try Self.parse(#"{"storage": {"kind": "postgres", "url": {"file": "/run/secrets/db"}, "poolSize": 25, "tls": "require", "connectTimeoutSeconds": 3}, "sources": {"# + Self.github + "}}")
        #expect(c.storage.kind == .postgres)
        #expect(c.storage.url == .file("/run/secrets/db"))
        #expect(c.storage.poolSize == 25 && c.storage.tls == .require && c.storage.connectTimeoutSeconds == 3)
    }

    @Test func minimalConfigGetsDefaults() throws {
        let c = try Self.parse(Self.withSource(Self.github))
        #expect(c.rules == ["rules/*.json"])
        #expect(c.targets.isEmpty)
        #expect(c.storage.synchronous == .full)
        #expect(c.storage.kind == .sqlite && c.storage.url == nil)
        #expect(c.delivery.maxInFlight == 1024)
        #expect(c.retention.days == 14)
        #expect(c.logging.format == .text)
        #expect(c.logging.level == "info")
        #expect(c.server.maxConnections == 2048)
        #expect(c.server.forwardedHeader == .xForwardedFor)
        #expect(c.server.maxBufferedBodyBytes == 64 * 1024 * 1024)
    }

    @Test(arguments: [("x-forwarded-for", ForwardedHeader.xForwardedFor), ("forwarded", .forwarded), ("x-real-ip", .xRealIP)])
    func forwardedHeaderAndBodyBudgetAreRead(name: String, header: ForwardedHeader) throws {
        let c = try Self.parse(#"{"server": {"forwardedHeader": "\#(name)", "maxBufferedBodyBytes": 1048576}, "sources": {"# + Self.github + "}}")
        #expect(c.server.forwardedHeader == header)
        #expect(c.server.maxBufferedBodyBytes == 1_048_576)
    }

    @Test func everyOptionalSectionIsRead() throws {
        let c = try Self.parse(#"""
        {"server": {"host": "0.0.0.0", "port": 0, "pathPrefix": "/tb/", "trustedProxies": ["10.0.0.0/8", "fd00::/8", "192.0.2.1"],
                    "idleTimeoutSeconds": 5, "headerTimeoutSeconds": 2, "requestTimeoutSeconds": 9, "maxConnections": 10},
         "storage": {"dataDir": "/var/lib/taskbridge", "synchronous": "normal"},
         "sources": {"github": {"kind": "github", "secrets": [{"env": "A"}, {"file": "/run/secrets/b"}]}},
         "targets": {"gc": {"kind": "groupchat", "baseURL": "https://example.test", "token": {"file": "/run/secrets/t"},
                            "timeoutSeconds": 3, "concurrency": 4, "rateLimit": {"burst": 10, "perMinute": 120},
                            "retry": {"maxAttempts": 5, "maxAgeSeconds": 60, "initialDelaySeconds": 0.5, "maxDelaySeconds": 8, "retryAfterCapSeconds": 30},
                            "breaker": {"failureThreshold": 3, "openSeconds": 12}, "batch": {"enabled": false, "maxOperations": 50},
                            "directoryCacheSeconds": 0, "taskLink": "https://groupchat.example/workspace/ws_1/tasks/{id}"}},
         "rules": "rules/main.json",
         "admin": {"token": {"env": "ADMIN"}},
         "delivery": {"maxInFlight": 8, "leaseSeconds": 30, "pollIntervalSeconds": 0.5, "shutdownGraceSeconds": 0},
         "retention": {"days": 2, "pruneIntervalSeconds": 60},
         "logging": {"format": "json", "level": "debug"}}
        """#)
        #expect(c.server.host == "0.0.0.0")
        #expect(c.server.port == 0)
        #expect(c.server.pathPrefix == "/tb")
        #expect(c.server.trustedProxies.map(\.description) == ["10.0.0.0/8", "fd00::/8", "192.0.2.1/32"])
        #expect(c.server.idleTimeoutSeconds == 5)
        #expect(c.server.headerTimeoutSeconds == 2)
        #expect(c.server.requestTimeoutSeconds == 9)
        #expect(c.server.maxConnections == 10)
        #expect(c.storage.dataDir == "/var/lib/taskbridge")
        #expect(c.storage.synchronous == .normal)
        #expect(c.sources["github"]?.secrets == [.env("A"), .file("/run/secrets/b")])
        let t = try #require(c.targets["gc"])
        #expect(t.baseURL == StringSetting(literal: "https://example.test"))
        #expect(t.token == .file("/run/secrets/t"))
        #expect(t.timeoutSeconds == 3)
        #expect(t.taskLink?.template == "https://groupchat.example/workspace/ws_1/tasks/{id}")
        #expect(t.concurrency == 4)
        #expect(t.rateLimit == RateLimitSettings(burst: 10, perSecond: 2))
        #expect(t.retry.maxAttempts == 5)
        #expect(t.retry.maxAgeSeconds == 60)
        #expect(t.retry.initialDelaySeconds == 0.5)
        #expect(t.retry.maxDelaySeconds == 8)
        #expect(t.retry.retryAfterCapSeconds == 30)
        #expect(t.breaker.failureThreshold == 3)
        #expect(t.breaker.openSeconds == 12)
        let gc = try #require(t.settings as? GroupChatSettings)
        #expect(gc.batchEnabled == false)
        #expect(gc.batchMaxOperations == 50)
        #expect(gc.directoryCacheSeconds == 0)
        #expect(c.rules == ["rules/main.json"])
        #expect(c.admin.token == .env("ADMIN"))
        #expect(c.delivery.maxInFlight == 8)
        #expect(c.delivery.leaseSeconds == 30)
        #expect(c.delivery.pollIntervalSeconds == 0.5)
        #expect(c.delivery.shutdownGraceSeconds == 0)
        #expect(c.retention.days == 2)
        #expect(c.retention.pruneIntervalSeconds == 60)
        #expect(c.logging.format == .json)
        #expect(c.logging.level == "debug")
    }

    // MARK: Located diagnostics

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        let expected: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        .init(name: "malformed JSON", config: "",
              expected: ["taskbridge.json: (top level): malformed JSON at byte 0: unexpected end of input, expected a value"]),
        .init(name: "not an object", config: "[]",
              expected: ["taskbridge.json: (top level): expected an object, found array"]),
        .init(name: "no sources", config: "{}",
              expected: ["taskbridge.json: (top level): missing required key \"sources\""]),
        .init(name: "empty sources", config: #"{"sources": {}}"#,
              expected: ["taskbridge.json: sources: define at least one source"]),
        .init(name: "unknown top-level key", config: #"{"serverr": {}, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: serverr: unknown key \"serverr\" (did you mean \"server\"?)"]),
        .init(name: "unknown key without a close match", config: #"{"colour": 1, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: colour: unknown key \"colour\""]),
        .init(name: "misspelled secrets", config: withSource(#""github": {"kind": "github", "secret": [{"env": "A"}]}"#),
              expected: ["taskbridge.json: sources.github.secret: unknown key \"secret\" (did you mean \"secrets\"?)",
                         "taskbridge.json: sources.github: missing required key \"secrets\" (the GitHub webhook secret)"]),
        .init(name: "sentry without secrets", config: withSource(#""sentry": {"kind": "sentry"}"#),
              expected: ["taskbridge.json: sources.sentry: missing required key \"secrets\" (the Sentry integration's client secret)"]),
        .init(name: "widget keys on a github source",
              config: withSource(#""github": {"kind": "github", "secrets": [{"env": "A"}], "allowedOrigins": []}"#),
              expected: ["taskbridge.json: sources.github.allowedOrigins: unknown key \"allowedOrigins\""]),
        .init(name: "plain-text secret", config: withSource(#""github": {"kind": "github", "secrets": ["hunter2"]}"#),
              expected: [#"taskbridge.json: sources.github.secrets[0]: a secret must not be written into the config; use {"env": "NAME"} or {"file": "/path"}"#]),
        .init(name: "plain-text admin token", config: #"{"admin": {"token": "s3cr3t"}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: admin.token: a secret must not be written into the config; use {"env": "NAME"} or {"file": "/path"}"#]),
        .init(name: "secret with env and file", config: withSource(#""github": {"kind": "github", "secrets": [{"env": "A", "file": "/b"}]}"#),
              expected: [#"taskbridge.json: sources.github.secrets[0]: give either "env" or "file", not both"#]),
        .init(name: "empty secret object", config: withSource(#""github": {"kind": "github", "secrets": [{}]}"#),
              expected: [#"taskbridge.json: sources.github.secrets[0]: expected {"env": "NAME"} or {"file": "/path"}"#]),
        .init(name: "misspelled env", config: withSource(#""github": {"kind": "github", "secrets": [{"evn": "A"}]}"#),
              expected: [#"taskbridge.json: sources.github.secrets[0].evn: unknown key "evn" (did you mean "env"?)"#]),
        .init(name: "empty env name", config: withSource(#""github": {"kind": "github", "secrets": [{"env": ""}]}"#),
              expected: ["taskbridge.json: sources.github.secrets[0].env: must not be empty"]),
        .init(name: "empty secrets list", config: withSource(#""github": {"kind": "github", "secrets": []}"#),
              expected: ["taskbridge.json: sources.github.secrets: list at least one secret, or remove the key"]),
        .init(name: "unknown kind", config: withSource(#""gl": {"kind": "gitlab", "secrets": [{"env": "A"}]}"#),
              expected: [#"taskbridge.json: sources.gl.kind: unknown value "gitlab" (did you mean "github"?); expected one of "github", "sentry", "widget""#]),
        .init(name: "bad source name", config: withSource(#""git hub": {"kind": "github", "secrets": [{"env": "A"}]}"#),
              expected: [#"taskbridge.json: sources["git hub"]: source name "git hub" must be letters, digits, "-" or "_" (it becomes the URL path /hooks/git hub)"#]),
        .init(name: "body limit above GitHub's 25 MB", config: withSource(#""github": {"kind": "github", "secrets": [{"env": "A"}], "maxBodyBytes": 26214401}"#),
              expected: ["taskbridge.json: sources.github.maxBodyBytes: 26214401 is out of range 1...26214400"]),
        // Rate limits
        .init(name: "rate with both units", config: widget(#""rateLimit": {"perClient": {"burst": 5, "perSecond": 2, "perMinute": 60}}"#),
              expected: [#"taskbridge.json: sources.widget.rateLimit.perClient: give either "perSecond" or "perMinute", not both"#]),
        .init(name: "rate without a rate", config: widget(#""rateLimit": {"perClient": {"burst": 5}}"#),
              expected: [#"taskbridge.json: sources.widget.rateLimit.perClient: missing required key "perSecond" or "perMinute""#]),
        .init(name: "rate without burst", config: widget(#""rateLimit": {"perSource": {"perSecond": 1}}"#),
              expected: [#"taskbridge.json: sources.widget.rateLimit.perSource: missing required key "burst""#]),
        .init(name: "zero burst", config: widget(#""rateLimit": {"perClient": {"burst": 0, "perMinute": 10}}"#),
              expected: ["taskbridge.json: sources.widget.rateLimit.perClient.burst: 0 is out of range 1...1000000"]),
        .init(name: "fractional burst", config: widget(#""rateLimit": {"perClient": {"burst": 1.5, "perMinute": 10}}"#),
              expected: ["taskbridge.json: sources.widget.rateLimit.perClient.burst: expected an integer, found a fraction"]),
        .init(name: "negative rate is reported once, where it is", config: widget(#""rateLimit": {"perClient": {"burst": 5, "perSecond": -1}}"#),
              expected: ["taskbridge.json: sources.widget.rateLimit.perClient.perSecond: -1 is out of range: must be greater than 0 and at most 1000000"]),
        .init(name: "unknown rate-limit scope", config: widget(#""rateLimit": {"perClinet": {"burst": 5, "perSecond": 1}}"#),
              expected: [#"taskbridge.json: sources.widget.rateLimit.perClinet: unknown key "perClinet" (did you mean "perClient"?)"#]),
        // Widget settings
        .init(name: "wildcard origin", config: widget(#""allowedOrigins": ["*"]"#),
              expected: [#"taskbridge.json: sources.widget.allowedOrigins[0]: "*" is not allowed; list each origin exactly (scheme://host[:port])"#]),
        .init(name: "origin with a path", config: widget(#""allowedOrigins": ["https://example.com", "https://example.com/feedback"]"#),
              expected: [#"taskbridge.json: sources.widget.allowedOrigins[1]: "https://example.com/feedback" is not an origin; expected scheme://host[:port] with no path"#]),
        .init(name: "origin without a scheme", config: widget(#""allowedOrigins": ["example.com"]"#),
              expected: [#"taskbridge.json: sources.widget.allowedOrigins[0]: "example.com" is not an origin; expected scheme://host[:port] with no path"#]),
        .init(name: "extra field shadows a standard one", config: widget(#""extraFields": ["company", "message"]"#),
              expected: [#"taskbridge.json: sources.widget.extraFields[1]: "message" is already a widget field"#]),
        .init(name: "limit for an unknown field", config: widget(#""fieldLimits": {"mesage": 10}"#),
              expected: [#"taskbridge.json: sources.widget.fieldLimits.mesage: unknown key "mesage" (did you mean "message"?)"#]),
        // Server
        .init(name: "bad CIDR", config: #"{"server": {"trustedProxies": ["10.0.0.0/8", "10.0.0.0/33", "proxy.local"]}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: server.trustedProxies[1]: "10.0.0.0/33" is not an IP address or CIDR block"#,
                         #"taskbridge.json: server.trustedProxies[2]: "proxy.local" is not an IP address or CIDR block"#]),
        .init(name: "port out of range", config: #"{"server": {"port": 70000}, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: server.port: 70000 is out of range 0...65535"]),
        .init(name: "port as a string", config: #"{"server": {"port": "8080"}, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: server.port: expected an integer, found string"]),
        .init(name: "relative path prefix", config: #"{"server": {"pathPrefix": "taskbridge"}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: server.pathPrefix: must start with "/", e.g. "/taskbridge""#]),
        .init(name: "path prefix with a query", config: #"{"server": {"pathPrefix": "/tb?x=1"}, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: server.pathPrefix: must be a plain path"]),
        .init(name: "unknown forwarding header", config: #"{"server": {"forwardedHeader": "x-forward-for"}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: server.forwardedHeader: unknown value "x-forward-for" (did you mean "x-forwarded-for"?); expected one of "x-forwarded-for", "forwarded", "x-real-ip""#]),
        .init(name: "body budget below a source's body limit",
              config: #"{"server": {"maxBufferedBodyBytes": 1048576}, "sources": {"github": {"kind": "github", "secrets": [{"env": "A"}], "maxBodyBytes": 26214400}}}"#,
              expected: ["taskbridge.json: server.maxBufferedBodyBytes: 1048576 is less than sources.github.maxBodyBytes (26214400); a body that size could never be buffered, so raise it to at least 26214400"]),
        .init(name: "body budget below the default body limit", config: #"{"server": {"maxBufferedBodyBytes": 2048}, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: server.maxBufferedBodyBytes: 2048 is less than sources.github.maxBodyBytes (1048576); a body that size could never be buffered, so raise it to at least 1048576"]),
        // Other sections
        .init(name: "lease too short", config: #"{"delivery": {"leaseSeconds": 1}, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: delivery.leaseSeconds: 1 is out of range 5...86400"]),
        .init(name: "retention of zero days", config: #"{"retention": {"days": 0}, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: retention.days: 0 is out of range 0.001...36500"]),
        .init(name: "misspelled log format", config: #"{"logging": {"format": "jsn"}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: logging.format: unknown value "jsn" (did you mean "json"?); expected one of "text", "json""#]),
        .init(name: "unknown log level", config: #"{"logging": {"level": "verbose"}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: logging.level: unknown value "verbose"; expected one of "trace", "debug", "info", "notice", "warning", "error", "critical""#]),
        .init(name: "misspelled synchronous mode", config: #"{"storage": {"synchronous": "fulll"}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: storage.synchronous: unknown value "fulll" (did you mean "full"?); expected one of "full", "normal""#]),
        .init(name: "postgres without a url", config: #"{"storage": {"kind": "postgres"}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: storage: missing required key "url""#]),
        .init(name: "postgres url written into the config", config: #"{"storage": {"kind": "postgres", "url": "postgres://u:p@h/db"}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: storage.url: a secret must not be written into the config; use {"env": "NAME"} or {"file": "/path"}"#]),
        .init(name: "sqlite store with postgres keys", config: #"{"storage": {"url": {"env": "U"}, "poolSize": 3}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: storage.poolSize: applies to "kind": "postgres" only (this store is SQLite)"#,
                         #"taskbridge.json: storage.url: applies to "kind": "postgres" only (this store is SQLite)"#]),
        .init(name: "postgres with synchronous", config: #"{"storage": {"kind": "postgres", "url": {"env": "U"}, "synchronous": "normal"}, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: storage.synchronous: synchronous applies to the SQLite store; PostgreSQL's durability is its own synchronous_commit setting"]),
        .init(name: "misspelled store kind", config: #"{"storage": {"kind": "postgress"}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: storage.kind: unknown value "postgress" (did you mean "postgres"?); expected one of "sqlite", "postgres""#]),
        .init(name: "pool of zero", config: #"{"storage": {"kind": "postgres", "url": {"env": "U"}, "poolSize": 0}, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: storage.poolSize: 0 is out of range 1...500"]),
        .init(name: "rules of the wrong type", config: #"{"rules": 3, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: rules: expected an array, found number"]),
        // Targets
        .init(name: "target without a token", config: #"{"targets": {"gc": {"kind": "groupchat"}}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: targets.gc: missing required key "token""#]),
        .init(name: "unknown target kind", config: #"{"targets": {"j": {"kind": "jira", "token": {"env": "T"}}}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: targets.j.kind: unknown value "jira"; expected one of "#
                         + TargetKinds.all.map { "\"\($0.kind)\"" }.joined(separator: ", ")]),
        .init(name: "wrongly cased target key", config: #"{"targets": {"gc": {"kind": "groupchat", "token": {"env": "T"}, "baseUrl": "https://x"}}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: targets.gc.baseUrl: unknown key "baseUrl" (did you mean "baseURL"?)"#]),
        .init(name: "retry delays inverted", config: #"{"targets": {"gc": {"kind": "groupchat", "token": {"env": "T"}, "retry": {"initialDelaySeconds": 10, "maxDelaySeconds": 5}}}, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: targets.gc.retry: maxDelaySeconds must be at least initialDelaySeconds"]),
        .init(name: "batch above GroupChat's limit", config: #"{"targets": {"gc": {"kind": "groupchat", "token": {"env": "T"}, "batch": {"maxOperations": 500}}}, "sources": {"# + github + "}}",
              expected: ["taskbridge.json: targets.gc.batch.maxOperations: 500 is out of range 1...200"]),
        .init(name: "base URL env without a name", config: #"{"targets": {"gc": {"kind": "groupchat", "token": {"env": "T"}, "baseURL": {"default": "https://x"}}}, "sources": {"# + github + "}}",
              expected: [#"taskbridge.json: targets.gc.baseURL: missing required key "env""#]),
    ]

    @Test(arguments: cases)
    func reportsLocatedProblems(_ c: Case) {
        #expect(Self.diagnostics(c.config) == c.expected)
    }

    @Test func collectsEveryProblemInOnePass() {
        let text = #"""
        {"storag": {}, "server": {"port": 70000, "trustedProxies": ["nope"]},
         "sources": {"github": {"kind": "github", "secrets": [{}]},
                     "widget": {"kind": "widget", "allowedOrigins": ["*"]}}}
        """#
        #expect(Self.diagnostics(text) == [
            #"taskbridge.json: storag: unknown key "storag" (did you mean "storage"?)"#,
            "taskbridge.json: server.port: 70000 is out of range 0...65535",
            #"taskbridge.json: server.trustedProxies[0]: "nope" is not an IP address or CIDR block"#,
            #"taskbridge.json: sources.github.secrets[0]: expected {"env": "NAME"} or {"file": "/path"}"#,
            #"taskbridge.json: sources.widget.allowedOrigins[0]: "*" is not allowed; list each origin exactly (scheme://host[:port])"#,
        ])
    }

    @Test func plainSecretsNeverAppearInDiagnostics() {
        let text = Self.withSource(#""github": {"kind": "github", "secrets": ["hunter2-do-not-log"]}"#)
        let all = Self.diagnostics(text).joined(separator: "\n")
        #expect(!all.isEmpty)
        #expect(!all.contains("hunter2"))
    }

    // MARK: Values

    @Test func widgetSettingsAreNormalized() throws {
        let c = try Self.parse(Self.widget(#"""
        "allowedOrigins": ["HTTPS://Example.COM:443/", "http://localhost:80", "https://shop.example.com:8443"],
        "honeypotField": null, "extraFields": ["company"], "fieldLimits": {"company": 100, "message": 1000},
        "maxBodyBytes": 4096, "rateLimit": {"perClient": {"burst": 3, "perMinute": 30}}
        """#))
        let w = try #require(c.sources["widget"]?.widget)
        #expect(w.allowedOrigins == ["https://example.com", "http://localhost", "https://shop.example.com:8443"])
        #expect(w.honeypotField == nil)
        #expect(w.extraFields == ["company"])
        #expect(w.limit(for: "company") == 100)
        #expect(w.limit(for: "message") == 1000)
        #expect(w.limit(for: "name") == 200)
        #expect(w.limit(for: "unlisted") == 500)
        #expect(c.sources["widget"]?.maxBodyBytes == 4096)
        #expect(c.sources["widget"]?.rateLimitPerClient == RateLimitSettings(burst: 3, perSecond: 0.5))
    }

    @Test(arguments: [
        ("https://example.com", "https://example.com"),
        ("HTTPS://EXAMPLE.com/", "https://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:443", "http://example.com:443"),
        ("https://example.com:80", "https://example.com:80"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ])
    func normalizesOrigins(text: String, origin: String) {
        #expect(Origin.normalize(text) == origin)
    }

    @Test(arguments: ["*", "example.com", "ftp://example.com", "https://", "https://example.com/a", "https://example.com?x",
                      "https://example.com#f", "https://user@example.com", "null"])
    func refusesNonOrigins(text: String) {
        #expect(Origin.normalize(text) == nil)
    }

    @Test func stringSettingsResolveFromTheEnvironment() {
        let s = StringSetting(env: "GROUPCHAT_BASE_URL", fallback: "https://groupchat.ai")
        #expect(s.resolve([:]) == "https://groupchat.ai")
        #expect(s.resolve(["GROUPCHAT_BASE_URL": ""]) == "https://groupchat.ai")
        #expect(s.resolve(["GROUPCHAT_BASE_URL": "http://127.0.0.1:9000"]) == "http://127.0.0.1:9000")
        #expect(StringSetting(env: "X").resolve([:]) == nil)
        #expect(StringSetting(literal: "https://a").resolve(["X": "y"]) == "https://a")
    }

    @Test func secretReferencesDescribeWhereNotWhat() {
        #expect(SecretReference.env("GITHUB_WEBHOOK_SECRET").description == "env GITHUB_WEBHOOK_SECRET")
        #expect(SecretReference.file("/run/secrets/gh").description == "file /run/secrets/gh")
    }

    @Test func diagnosticDescription() {
        #expect(Diagnostic(file: "rules/a.json", path: "rules[2].when", message: "bad").description == "rules/a.json: rules[2].when: bad")
        #expect(Diagnostic(file: "a.json", path: "", message: "bad").description == "a.json: (top level): bad")
        let e = DiagnosticsError([Diagnostic(file: "a", path: "x", message: "one"), Diagnostic(file: "a", path: "y", message: "two")])
        #expect(e.description == "a: x: one\na: y: two")
    }

    @Test(arguments: [
        ("equals", "eqauls", 1), ("equals", "equals", 0), ("kitten", "sitting", 3), ("", "abc", 3), ("abc", "", 3),
        ("ab", "ba", 1), ("secrets", "secret", 1),
    ])
    func spellingDistance(a: String, b: String, d: Int) {
        #expect(Spelling.distance(a, b) == d)
    }

    @Test func spellingSuggestsOnlyCloseWords() {
        #expect(Spelling.suggestion(for: "SERVR", among: ["server", "sources"]) == "server")
        #expect(Spelling.suggestion(for: "xyz", among: ["server", "sources"]) == nil)
        #expect(Spelling.suggestion(for: "in", among: ["in", "gt"]) == "in")
    }
}

extension ConfigParserTests {
    @Test func aTaskLinkThatIsNotATemplateIsReportedAtItsPath() {
        let text = #"{"sources": {\#(Self.github)}, "targets": {"gc": {"kind": "groupchat", "token": {"env": "T"}, "taskLink": "https://groupchat.ai/tasks/"}}}"#
        #expect(Self.diagnostics(text) == [
            "taskbridge.json: targets.gc.taskLink: must contain {id} (or another field of the task) where the task goes",
        ])
    }
}
