import Synchronization
import TaskBridgeTargets

/// The dispatcher's targets as the admin API shows them: each gate (breaker, auth pause)
/// and why a target cannot deliver. Empty when this process runs no dispatcher.
final class TargetStatusBoard: Sendable {
    struct Entry: Sendable {
        let kind: String
        let gate: TargetGate
        let unavailableReason: String?
    }

    private let entries = Mutex<[String: Entry]>([:])

    func register(_ name: String, _ entry: Entry) {
        entries.withLock { $0[name] = entry }
    }

    func entry(_ name: String) -> Entry? { entries.withLock { $0[name] } }
}
