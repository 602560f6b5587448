/// How far an event's work has got, as the console's badges show it: judged by the jobs
/// of its latest planning (a replay plans a new generation, and the jobs it replaced no
/// longer speak for the event). The stores compute the same answer in SQL
/// (`JobSQL.delivery`) so the list can be filtered by it; a conformance test checks that
/// both agree.
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

    public static func of(_ all: [(state: String, lastError: String?, generation: Int)]) -> DeliveryStatus {
        guard let latest = all.map(\.generation).max() else { return .none }
        let jobs = all.filter { $0.generation == latest }
        if jobs.contains(where: { $0.state == JobState.dead.rawValue }) { return .dead }
        let unfinished = jobs.filter { $0.state != JobState.succeeded.rawValue }
        if unfinished.contains(where: { $0.lastError != nil }) { return .failed }
        return unfinished.isEmpty ? .delivered : .planned
    }
}
