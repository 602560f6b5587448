import AsyncHTTPClient
import TaskBridgeCore

/// The live transport: bearer token (`gck_` workspace key, or `gcp_` personal token with
/// `X-Workspace-Id`), `Idempotency-Key` on writes, every request through the target's
/// ``TargetGate`` (``GatedHTTP``).
public final class HTTPGroupChatTransport: GroupChatTransport {
    let http: GatedHTTP
    private let credentials: RotatingCredentials<GroupChatCredentials>
    let wallClock: @Sendable () -> Double

    public init(client: HTTPClient, baseURL: String, credentials: GroupChatCredentials, timeoutSeconds: Double,
                gate: TargetGate, wallClock: @escaping @Sendable () -> Double) {
        self.http = GatedHTTP(client: client, baseURL: baseURL, timeoutSeconds: timeoutSeconds, gate: gate)
        self.credentials = RotatingCredentials(credentials)
        self.wallClock = wallClock
    }

    public static var maxResponseBytes: Int { GatedHTTP.maxResponseBytes }

    /// Swaps in credentials read again on reload (a rotated token file). Returns whether
    /// they differ from the ones in use.
    @discardableResult
    public func replaceCredentials(_ new: GroupChatCredentials) -> Bool { credentials.replace(new) }

    public func send(_ request: GroupChatRequest) async throws(StepFailure) -> (GroupChatResponse, WireRecord) {
        var request = request
        request.bodyText = request.serializedBody  // once: for the wire and for the attempt record
        var headers = credentials.current.headers
        if let key = request.idempotencyKey { headers.append(("Idempotency-Key", key)) }
        let answer = try await http.send(method: request.method, pathWithQuery: request.pathWithQuery, headers: headers,
                                         body: request.bodyText, describe: request.description,
                                         label: "\(request.method) \(request.path)")
        return (GroupChatResponse(status: answer.status, body: answer.body, retryAfter: answer.retryAfter), answer.record)
    }
}

/// GroupChat credentials. A personal access token (`gcp_`) is user-scoped and needs a
/// workspace id on every request; a workspace key (`gck_`) carries its workspace.
public struct GroupChatCredentials: Sendable, Equatable {
    public let token: Secret
    public let workspaceId: String?

    public init(token: Secret, workspaceId: String?) throws(StepFailure) {
        if token.text.hasPrefix("gcp_") && (workspaceId ?? "").isEmpty {
            throw StepFailure.permanent("a personal access token (gcp_…) needs a workspace id (workspaceId, e.g. from GROUPCHAT_WORKSPACE_ID)")
        }
        self.token = token
        self.workspaceId = workspaceId
    }

    var headers: [(String, String)] {
        var h = [("Authorization", "Bearer " + token.text)]
        if let workspaceId, !workspaceId.isEmpty { h.append(("X-Workspace-Id", workspaceId)) }
        return h
    }
}
