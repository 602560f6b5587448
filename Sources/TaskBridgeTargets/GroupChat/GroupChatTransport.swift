import TaskBridgeCore

/// Sends GroupChat requests. The live transport speaks HTTP; the dry-run transport
/// records requests and invents nothing it cannot know.
public protocol GroupChatTransport: Sendable {
    func send(_ request: GroupChatRequest) async throws(StepFailure) -> (GroupChatResponse, WireRecord)
}

extension GroupChatTransport {
    /// Sends and classifies: 2xx returns the response; anything else throws a
    /// ``StepFailure`` carrying the upstream's reason and `Retry-After`.
    func call(_ request: GroupChatRequest, wire: inout [WireRecord], now: Double) async throws(StepFailure) -> GroupChatResponse {
        let response = try await GatedHTTP.recording(request.description, in: &wire) { () async throws(StepFailure) in try await send(request) }
        guard let failure = FailureClass.classify(status: response.status) else { return response }
        let subject = (request.body?["id"] ?? request.body?["taskId"])?.stringValue.map { " for task \($0)" } ?? ""
        var reason = "\(request.method) \(request.path)\(subject) answered \(response.status): \(response.errorMessage)"
        if failure == .authentication { reason += " (check the target's token and workspace)" }
        throw StepFailure(failure, reason, status: response.status,
                          retryAfterSeconds: RetryPolicy.parseRetryAfter(response.retryAfter, now: now), sent: true)
    }
}
