import TaskBridgeCore

extension TargetConfig {
    /// The target's token, read now, or why its jobs must wait (unset variable, unreadable
    /// file, no token configured). The message names where it looked, never a value.
    public func resolveToken(_ secrets: SecretResolver) throws(TargetUnavailable) -> Secret {
        switch token.map(secrets.resolve) {
        case .value(let s)?: return s
        case .missing(let why)?: throw TargetUnavailable("target \(name) has no token (\(why)); its jobs wait until one is set")
        case nil: throw TargetUnavailable("target \(name) has no token configured")
        }
    }
}
