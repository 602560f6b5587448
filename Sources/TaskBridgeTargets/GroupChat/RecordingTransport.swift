import Synchronization
import TaskBridgeCore

/// A transport for dry runs: records each request and answers what GroupChat would,
/// echoing the fields sent, so later steps can render (a created task gets the id
/// `<task created by step N>`). Nothing leaves the process.
public final class RecordingTransport: GroupChatTransport {
    private let recorded = Mutex<[GroupChatRequest]>([])
    private let created = Mutex(0)
    let log: RequestLog?
    let workspaceId: String?

    /// - Parameters:
    ///   - log: receives each request as it would go on the wire, token redacted.
    ///   - workspaceId: sent as `X-Workspace-Id` (not a secret).
    public init(log: RequestLog? = nil, workspaceId: String? = nil) {
        self.log = log
        self.workspaceId = workspaceId
    }

    public var requests: [GroupChatRequest] { recorded.withLock { $0 } }

    /// The request with the headers the live transport sends, the token redacted.
    func planned(_ r: GroupChatRequest) -> PlannedRequest {
        var headers: [(String, String)] = [("Authorization", "Bearer <redacted>")]
        if let ws = workspaceId, !ws.isEmpty { headers.append(("X-Workspace-Id", ws)) }
        headers.append(("Accept", "application/json"))
        if let k = r.idempotencyKey { headers.append(("Idempotency-Key", k)) }
        if r.body != nil { headers.append(("Content-Type", "application/json")) }
        return PlannedRequest(method: r.method, path: r.pathWithQuery, headers: headers, body: r.body)
    }

    public func send(_ request: GroupChatRequest) async throws(StepFailure) -> (GroupChatResponse, WireRecord) {
        recorded.withLock { $0.append(request) }
        log?.append(planned(request))
        var answer: JSONValue = .object([:])
        let body = request.body?.objectValue ?? [:]
        switch (request.method, request.path) {
        case ("POST", "/api/v1/tasks"):
            let n = created.withLock { c -> Int in
                c += 1
                return c
            }
            var task = body
            task["id"] = .string("<new task \(n)>")
            answer = .object(task)
        case ("PATCH", "/api/v1/tasks"):
            answer = .object(body)
        case ("POST", "/api/v1/agents/delegate"):
            answer = ["status": "created", "runId": "<new run>"]
        case ("GET", _):
            answer = .array([])
        default:
            break
        }
        return (GroupChatResponse(status: 200, body: JSONWriter.serializeBytes(answer)),
                WireRecord(request: request.description, status: 200, latencyMillis: 0, response: nil))
    }
}
