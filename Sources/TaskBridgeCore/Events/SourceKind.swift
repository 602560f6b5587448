/// The providers TaskBridge knows how to verify and normalize.
public enum SourceKind: String, Sendable, Hashable, CaseIterable {
    case github
    case sentry
    case widget
}
