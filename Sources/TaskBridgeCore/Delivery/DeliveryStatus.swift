/// How far an event's work has got, as the console's badges show it. The stores compute
/// the same answer in SQL (`JobSQL.delivery`) so the list can be filtered by it; a
/// conformance test checks that both agree.
public enum DeliveryStatus: String, Sendable, CaseIterable {
    /// The event planned no jobs (unmatched or ignored).
    case none
    /// Some job is a dead letter.
    case dead
    /// Some unfinished job has failed at least once and waits for its retry.
    case failed
    /// Every job succeeded.
    case delivered
    /// Jobs are pending, running or waiting, none has failed yet.
    case planned

    public static func of(_ jobs: [(state: String, lastError: String?)]) -> DeliveryStatus {
        if jobs.isEmpty { return .none }
        if jobs.contains(where: { $0.state == JobState.dead.rawValue }) { return .dead }
        let unfinished = jobs.filter { $0.state != JobState.succeeded.rawValue }
        if unfinished.contains(where: { $0.lastError != nil }) { return .failed }
        return unfinished.isEmpty ? .delivered : .planned
    }
}
