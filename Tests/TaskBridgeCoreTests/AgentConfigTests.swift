import Testing
@testable import TaskBridgeCore
import TaskBridgeTargets

/// The `agents` block: defaults, the synthesized `agent` source, and every problem
/// reported where it is written.
@Suite("AgentConfig")
struct AgentConfigTests {
    static let file = "taskbridge.json"
    static let targets = #"""
    "targets": {"ph": {"kind": "posthog", "token": {"env": "PH"}, "projectId": 1},
                "zy": {"kind": "zylon", "token": {"env": "ZY"}, "baseURL": "https://z.example", "org": "default", "project": "p"},
                "gc": {"kind": "groupchat", "token": {"env": "GC"}}}
    """#

    /// A config with one github source, the three targets and the given `agents` members.
    static func config(agents: String?, sources: String = #""github": {"kind": "github", "secrets": [{"env": "S"}]}"#) -> String {
        #"{"sources": {"# + sources + "}, " + targets + (agents.map { #", "agents": {"# + $0 + "}" } ?? "") + "}"
    }

    static func parse(_ text: String) throws(DiagnosticsError) -> TaskBridgeConfig {
        try ConfigParser.parse(Array(text.utf8), file: file, kinds: TargetKinds.all)
    }

    static func diagnostics(_ text: String) -> [String] {
        do throws(DiagnosticsError) {
            _ = try parse(text)
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    /// Diagnostics for one agent named `coder` with the given members.
    static func agentProblems(_ members: String) -> [String] {
        diagnostics(config(agents: #""coder": {"# + members + "}"))
    }

    static let token = #""token": {"env": "GCA"}"#
    static let phBackend = #""backend": {"target": "ph", "repository": "acme/api"}"#

    // MARK: Valid

    @Test func aValidAgentsBlockParsesWithDefaultsAndAddsTheAgentSource() throws {
        let c = try Self.parse(Self.config(agents: #"""
        "coder": {"token": {"env": "GCA_CODER"}, "backend": {"target": "ph", "repository": "acme/api"}},
        "helper": {"token": {"file": "/run/secrets/gca"}, "baseURL": "https://gc.example", "concurrency": 2, "maxRunMinutes": 30,
                   "pollSeconds": 10, "timeoutSeconds": 3, "maxCostUsdPerDay": 5,
                   "backend": {"target": "zy", "project": "support", "usdPerMillionInputTokens": 3, "usdPerMillionOutputTokens": 15}}
        """#))
        #expect(c.agents.keys.sorted() == ["coder", "helper"])
        let coder = try #require(c.agents["coder"])
        #expect(coder.name == "coder")
        #expect(coder.token == .env("GCA_CODER"))
        #expect(coder.baseURL == StringSetting(literal: "https://groupchat.ai"))
        #expect(coder.concurrency == 4)
        #expect(coder.maxRunMinutes == 120)
        #expect(coder.pollSeconds == 5)
        #expect(coder.timeoutSeconds == 15)
        #expect(coder.maxCostUsdPerDay == nil)
        var ph = AgentBackendConfig(target: "ph", kind: .posthog)
        ph.repository = "acme/api"
        #expect(coder.backend == ph)
        #expect(coder.backend.originProduct == "user_created")
        #expect(coder.backend.hasPricing == false)

        let helper = try #require(c.agents["helper"])
        #expect(helper.token == .file("/run/secrets/gca"))
        #expect(helper.baseURL == StringSetting(literal: "https://gc.example"))
        #expect(helper.concurrency == 2)
        #expect(helper.maxRunMinutes == 30)
        #expect(helper.pollSeconds == 10)
        #expect(helper.timeoutSeconds == 3)
        #expect(helper.maxCostUsdPerDay == 5)
        var zy = AgentBackendConfig(target: "zy", kind: .zylon)
        zy.project = "support"
        zy.usdPerMillionInputTokens = 3
        zy.usdPerMillionOutputTokens = 15
        #expect(helper.backend == zy)

        #expect(c.sources.keys.sorted() == ["agent", "github"])
        let agentSource = try #require(c.sources["agent"])
        #expect(agentSource.name == "agent")
        #expect(agentSource.kind == .agent)
        #expect(agentSource.secrets == [])
    }

    @Test func withoutAgentsThereIsNoAgentSource() throws {
        let c = try Self.parse(Self.config(agents: nil))
        #expect(c.agents.isEmpty)
        #expect(c.sources.keys.sorted() == ["github"])
    }

    @Test func theBackendCostIsTheFlatPriceOrTheTokensPriced() {
        var ph = AgentBackendConfig(target: "ph", kind: .posthog)
        #expect(ph.cost(inputTokens: 1_000, outputTokens: 1_000) == nil)
        ph.costUsdPerRun = 2.5
        #expect(ph.hasPricing)
        #expect(ph.cost(inputTokens: nil, outputTokens: nil) == 2.5)
        var zy = AgentBackendConfig(target: "zy", kind: .zylon)
        #expect(zy.cost(inputTokens: 1_000_000, outputTokens: 1_000_000) == nil, "no pricing")
        zy.usdPerMillionOutputTokens = 10
        #expect(zy.hasPricing)
        #expect(zy.cost(inputTokens: nil, outputTokens: nil) == nil, "no usage reported")
        #expect(zy.cost(inputTokens: 2_000_000, outputTokens: 500_000) == 5)
        zy.usdPerMillionInputTokens = 1
        #expect(zy.cost(inputTokens: 2_000_000, outputTokens: 500_000) == 7)
    }

    // MARK: Located diagnostics

    @Test func anUnknownKeyInAnAgentAndInItsBackendIsNamedWithASuggestion() {
        #expect(Self.agentProblems(Self.token + #", "concurency": 2, "backend": {"target": "ph", "repositry": "acme/api"}"#) == [
            #"taskbridge.json: agents.coder.concurency: unknown key "concurency" (did you mean "concurrency"?)"#,
            #"taskbridge.json: agents.coder.backend.repositry: unknown key "repositry" (did you mean "repository"?)"#,
            #"taskbridge.json: agents.coder.backend: missing required key "repository""#,
        ])
    }

    @Test func theTokenIsRequiredAndNeverALiteral() {
        #expect(Self.agentProblems(Self.phBackend) == [#"taskbridge.json: agents.coder: missing required key "token""#])
        #expect(Self.agentProblems(#""token": "gca_123", "# + Self.phBackend) == [
            #"taskbridge.json: agents.coder.token: a secret must not be written into the config; use {"env": "NAME"} or {"file": "/path"}"#,
        ])
    }

    @Test func theBackendMustNameAPostHogOrZylonTarget() {
        #expect(Self.agentProblems(Self.token + #", "backend": {"target": "zz"}"#) == [
            #"taskbridge.json: agents.coder.backend.target: unknown target "zz" (did you mean "zy"?); configured targets: gc, ph, zy"#,
        ])
        #expect(Self.agentProblems(Self.token + #", "backend": {"target": "gc"}"#) == [
            #"taskbridge.json: agents.coder.backend.target: target "gc" is a groupchat target; an agent's backend must be a posthog or zylon target"#,
        ])
        #expect(Self.agentProblems(Self.token) == [#"taskbridge.json: agents.coder: missing required key "backend""#])
    }

    @Test func aPostHogBackendNeedsAnOrgSlashRepoRepository() {
        #expect(Self.agentProblems(Self.token + #", "backend": {"target": "ph"}"#) == [
            #"taskbridge.json: agents.coder.backend: missing required key "repository""#,
        ])
        for bad in ["acme", "acme/api/x", "/api", "acme/", "acme /api"] {
            #expect(Self.agentProblems(Self.token + #", "backend": {"target": "ph", "repository": ""# + bad + #""}"#) == [
                #"taskbridge.json: agents.coder.backend.repository: ""# + bad + #"" is not a repository; expected "org/repo""#,
            ])
        }
    }

    @Test func aKeyOfTheOtherBackendKindIsReported() {
        #expect(Self.agentProblems(Self.token + #", "backend": {"target": "ph", "repository": "acme/api", "project": "p"}"#) == [
            #"taskbridge.json: agents.coder.backend.project: "project" is for zylon backends; target "ph" is posthog"#,
        ])
        #expect(Self.agentProblems(Self.token + #", "backend": {"target": "zy", "costUsdPerRun": 1}"#) == [
            #"taskbridge.json: agents.coder.backend.costUsdPerRun: "costUsdPerRun" is for posthog backends; target "zy" is zylon"#,
        ])
    }

    @Test func aDailyBudgetNeedsTheBackendsPricing() {
        #expect(Self.agentProblems(Self.token + ", " + Self.phBackend + #", "maxCostUsdPerDay": 10"#) == [
            "taskbridge.json: agents.coder.maxCostUsdPerDay: PostHog reports no cost: set backend.costUsdPerRun so runs can be counted against the budget",
        ])
        #expect(Self.agentProblems(Self.token + #", "backend": {"target": "zy"}, "maxCostUsdPerDay": 10"#) == [
            "taskbridge.json: agents.coder.maxCostUsdPerDay: set backend.usdPerMillionInputTokens and/or usdPerMillionOutputTokens so Zylon's token usage can be counted against the budget",
        ])
        #expect(Self.agentProblems(Self.token + #", "backend": {"target": "ph", "repository": "a/b", "costUsdPerRun": 2}, "maxCostUsdPerDay": 10"#) == [])
    }

    @Test func settingsOutOfRangeAreReported() {
        #expect(Self.agentProblems(Self.token + ", " + Self.phBackend + #", "concurrency": 0, "pollSeconds": 0.1, "maxRunMinutes": 20000"#) == [
            "taskbridge.json: agents.coder.concurrency: 0 is out of range 1...256",
            "taskbridge.json: agents.coder.maxRunMinutes: 20000 is out of range 0.01...10080",
            "taskbridge.json: agents.coder.pollSeconds: 0.1 is out of range 0.2...300",
        ])
        #expect(Self.agentProblems(Self.token + ", " + Self.phBackend + #", "concurrency": 1.5, "pollSeconds": 301"#) == [
            "taskbridge.json: agents.coder.concurrency: expected an integer, found a fraction",
            "taskbridge.json: agents.coder.pollSeconds: 301 is out of range 0.2...300",
        ])
    }

    @Test func aBadAgentNameIsReported() {
        #expect(Self.diagnostics(Self.config(agents: #""my agent": {"# + Self.token + ", " + Self.phBackend + "}")) == [
            #"taskbridge.json: agents["my agent"]: agent name "my agent" must be letters, digits, "-" or "_""#,
        ])
    }

    @Test func theAgentSourceNameAndKindAreReserved() {
        let named = Self.config(agents: #""coder": {"# + Self.token + ", " + Self.phBackend + "}",
                                sources: #""agent": {"kind": "github", "secrets": [{"env": "S"}]}"#)
        #expect(Self.diagnostics(named) == [
            #"taskbridge.json: sources.agent: the source name "agent" is taken by agent-run events while agents are configured; rename this source"#,
        ])
        // Without agents, "agent" is an ordinary source name.
        #expect(Self.diagnostics(Self.config(agents: nil, sources: #""agent": {"kind": "github", "secrets": [{"env": "S"}]}"#)) == [])
        let kind = Self.config(agents: nil, sources: #""bots": {"kind": "agent"}"#)
        #expect(Self.diagnostics(kind) == [
            #"taskbridge.json: sources.bots.kind: no source has kind "agent": agent-run events come from the "agents" section, as source "agent""#,
        ])
    }

    // MARK: Rules on the agent source

    static func ruleProblems(agents: String?) -> [String] {
        let rules = #"{"rules": [{"id": "r", "sources": "agent", "events": "agent.run.completed", "target": "gc", "do": [{"action": "task.create", "title": "t"}]}]}"#
        do throws(DiagnosticsError) {
            let c = try parse(config(agents: agents))
            _ = try RuleParser(config: c).parse([.init(path: "r.json", bytes: Array(rules.utf8))])
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    @Test func aRuleOnTheAgentSourceNeedsAgents() {
        #expect(Self.ruleProblems(agents: #""coder": {"# + Self.token + ", " + Self.phBackend + "}") == [])
        #expect(Self.ruleProblems(agents: nil) == [
            #"r.json: rules[0].sources: unknown source "agent" (agent-run events exist once "agents" are configured); configured sources: github"#,
        ])
    }
}
