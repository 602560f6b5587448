import Synchronization

/// When the rule set in use was installed and how the last reload went, for the
/// console's Rules page: a rejected reload keeps the old rules serving, so its error is
/// only visible here and in the log.
final class RuleStatusBoard: Sendable {
    struct Status: Sendable {
        var loadedAtMillis: Int64?
        var lastReloadAtMillis: Int64?
        var lastReloadError: String?
    }

    private let status = Mutex(Status())

    var current: Status { status.withLock { $0 } }

    func installed(atMillis now: Int64) {
        status.withLock { $0.loadedAtMillis = now }
    }

    func reloaded(atMillis now: Int64, error: String?) {
        status.withLock {
            $0.lastReloadAtMillis = now
            $0.lastReloadError = error
        }
    }
}
