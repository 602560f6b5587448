/// The providers TaskBridge knows how to verify and normalize.
public enum SourceKind: String, Sendable, Hashable, CaseIterable {
    case github
    case sentry
    case widget
    /// Agent-run transitions (``AgentEvents``): made by TaskBridge itself, never received
    /// over HTTP.
    case agent
}
