import AsyncHTTPClient
import TaskBridgeCore

/// What every Zylon request carries: the bearer token and the organisation (`x-org`,
/// required on `/api/v1/app/*`; docs/targets-research.md §2.1).
public struct ZylonCredentials: Sendable, Hashable {
    public let token: Secret
    public let org: String

    public init(token: Secret, org: String) {
        self.token = token
        self.org = org
    }
}

/// The live transport: every request through the target's ``TargetGate`` and admitted
/// by the job's ``SendGuard`` (``GatedHTTP``). Only 401 counts as refused credentials:
/// Zylon's 403 means "not a member of this project", which fails the step instead.
public final class HTTPZylonTransport: ZylonTransport {
    let http: GatedHTTP
    private let credentials: RotatingCredentials<ZylonCredentials>

    public init(client: HTTPClient, baseURL: String, credentials: ZylonCredentials, timeoutSeconds: Double, gate: TargetGate) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.http = GatedHTTP(client: client, baseURL: base, timeoutSeconds: timeoutSeconds, gate: gate, authRefusals: [401])
        self.credentials = RotatingCredentials(credentials)
    }

    /// Swaps in credentials read again on reload. Returns whether they changed.
    @discardableResult
    public func replaceCredentials(_ new: ZylonCredentials) -> Bool { credentials.replace(new) }

    public func send(_ request: ZylonRequest) async throws(StepFailure) -> GatedHTTP.Answer {
        let creds = credentials.current
        return try await http.send(method: request.method, pathWithQuery: request.path,
                                   headers: [("Authorization", "Bearer " + creds.token.text), ("x-org", creds.org)],
                                   body: request.serializedBody, describe: request.description, label: "\(request.method) \(request.path)")
    }
}
