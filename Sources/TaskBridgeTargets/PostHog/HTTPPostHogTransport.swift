import AsyncHTTPClient
import TaskBridgeCore

/// The live transport: the personal API key as `Authorization: Bearer phx_…`, every
/// request through the target's ``TargetGate`` (``GatedHTTP``). PostHog documents no
/// idempotency header, so none is sent: exactly-once comes from the connector's
/// reconciliation instead.
public final class HTTPPostHogTransport: PostHogTransport {
    let http: GatedHTTP
    private let token: RotatingCredentials<Secret>

    public init(client: HTTPClient, baseURL: String, token: Secret, timeoutSeconds: Double, gate: TargetGate) {
        self.http = GatedHTTP(client: client, baseURL: baseURL, timeoutSeconds: timeoutSeconds, gate: gate)
        self.token = RotatingCredentials(token)
    }

    /// Swaps in a token read again on reload. Returns whether it differs from the one in use.
    @discardableResult
    public func replaceToken(_ new: Secret) -> Bool { token.replace(new) }

    public func send(_ request: PostHogRequest) async throws(StepFailure) -> GatedHTTP.Answer {
        try await http.send(method: request.method, pathWithQuery: request.pathWithQuery,
                            headers: [("Authorization", "Bearer " + token.current.text)],
                            body: request.serializedBody, describe: request.description,
                            label: "\(request.method) \(request.path)")
    }
}
