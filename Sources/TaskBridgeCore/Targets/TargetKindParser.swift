/// The pure half of a target kind: the config keys it adds to every target's common
/// ones, and the step actions it executes. The kind's connector (the I/O half) lives in
/// TaskBridgeTargets next to it; parsers receive the kinds, so Core names none.
public protocol TargetKindParser: Sendable {
    /// The `kind` value in the config: `groupchat`, `posthog`, …
    var kind: String { get }
    /// Used when a target sets no `baseURL`.
    var defaultBaseURL: String { get }
    /// Keys this kind accepts besides the common ones (``TargetConfig/commonKeys``).
    var settingKeys: [String] { get }
    var actions: [ActionSpec] { get }
    /// Reads this kind's keys of one target object, reporting problems at their paths.
    func readSettings(_ object: JSONObjectNode) -> any TargetSettings
}

/// A kind's own settings, kept on its ``TargetConfig`` for its connector.
public protocol TargetSettings: Sendable {}

/// For kinds without settings of their own.
public struct NoTargetSettings: TargetSettings {
    public init() {}
}
