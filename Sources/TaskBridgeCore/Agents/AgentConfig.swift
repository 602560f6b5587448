/// A GroupChat agent TaskBridge acts as (`agents.<name>` in the config): it picks up the
/// agent's PENDING runs and works them on a PostHog or Zylon target.
public struct AgentConfig: Sendable {
    public var name: String
    /// The agent's `gca_` token.
    public var token: SecretReference?
    public var baseURL = StringSetting(literal: "https://groupchat.ai")
    public var backend: AgentBackendConfig
    /// Runs worked at once; more stay PENDING in GroupChat until one ends.
    public var concurrency = 4
    /// A run still unfinished this long after it started is failed with `/error`.
    public var maxRunMinutes = 120.0
    /// How often PENDING runs are listed (with ±20% jitter).
    public var pollSeconds = 5.0
    /// Over the last 24 hours; runs past it fail with a clear message instead of
    /// starting the backend. Needs the backend's pricing to count anything.
    public var maxCostUsdPerDay: Double?
    public var timeoutSeconds = 15.0

    public static let keys = ["token", "baseURL", "backend", "concurrency", "maxRunMinutes", "pollSeconds", "maxCostUsdPerDay", "timeoutSeconds"]

    public init(name: String, backend: AgentBackendConfig) {
        self.name = name
        self.backend = backend
    }
}

/// Where an agent's runs are worked: a configured `posthog` target (a coding agent that
/// opens a pull request) or `zylon` target (an answer from project context).
public struct AgentBackendConfig: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case posthog, zylon }

    public var target: String
    public var kind: Kind
    /// PostHog: the `org/repo` the task works on.
    public var repository: String?
    /// PostHog: the task's `origin_product`.
    public var originProduct = "user_created"
    /// Zylon: the project chats run in (default: the target's `project`).
    public var project: String?
    /// PostHog reports no cost: what one run is taken to cost, if set.
    public var costUsdPerRun: Double?
    /// Zylon reports token usage: prices per million tokens turn it into a cost.
    public var usdPerMillionInputTokens: Double?
    public var usdPerMillionOutputTokens: Double?

    public static let keys = ["target", "repository", "originProduct", "project", "costUsdPerRun",
                              "usdPerMillionInputTokens", "usdPerMillionOutputTokens"]

    public init(target: String, kind: Kind) {
        self.target = target
        self.kind = kind
    }

    /// Whether a cost can be known for a run (so a daily budget means something).
    public var hasPricing: Bool {
        switch kind {
        case .posthog: costUsdPerRun != nil
        case .zylon: usdPerMillionInputTokens != nil || usdPerMillionOutputTokens != nil
        }
    }

    /// The cost of a finished run: the flat PostHog price, or Zylon's token usage priced.
    public func cost(inputTokens: Double?, outputTokens: Double?) -> Double? {
        switch kind {
        case .posthog:
            return costUsdPerRun
        case .zylon:
            guard hasPricing, inputTokens != nil || outputTokens != nil else { return nil }
            let input = (inputTokens ?? 0) * (usdPerMillionInputTokens ?? 0) / 1_000_000
            let output = (outputTokens ?? 0) * (usdPerMillionOutputTokens ?? 0) / 1_000_000
            return input + output
        }
    }
}
