import AsyncHTTPClient
import TaskBridgeCore

/// GroupChat's Agent API (`/api/v1/agent/…`, `../shared/api-docs/groupchat-agent-api.txt`)
/// as the agent itself calls it: the `gca_` token by Basic auth (the documented,
/// recommended form), every request through the agent's ``TargetGate`` (limits, breaker,
/// pause on 401/403). Answers come back with their status: a 409 on a transition means
/// "the run moved on", which only the runner can reconcile.
public final class GroupChatAgentClient: Sendable {
    let http: GatedHTTP
    private let token: RotatingCredentials<Secret>

    public init(client: HTTPClient, baseURL: String, token: Secret, timeoutSeconds: Double, gate: TargetGate) {
        self.http = GatedHTTP(client: client, baseURL: baseURL, timeoutSeconds: timeoutSeconds, gate: gate)
        self.token = RotatingCredentials(token)
    }

    public var gate: TargetGate { http.gate }

    /// Swaps in a token read again on reload; whether it differs from the one in use.
    @discardableResult
    public func replaceToken(_ new: Secret) -> Bool { token.replace(new) }

    public enum Transition: String, Sendable {
        case start, comment, complete, error
    }

    public func me() async throws(StepFailure) -> GatedHTTP.Answer {
        try await send("GET", "/api/v1/agent/me")
    }

    public func pendingRuns(limit: Int = 100) async throws(StepFailure) -> GatedHTTP.Answer {
        try await send("GET", "/api/v1/agent/runs", query: "?status=PENDING&limit=\(limit)")
    }

    public func run(_ id: String) async throws(StepFailure) -> GatedHTTP.Answer {
        try await send("GET", "/api/v1/agent/runs/" + GatedHTTP.pathSegment(id))
    }

    /// `/start` (`message`), `/comment`, `/complete`, `/error` (`body`, and this turn's cost
    /// as `stepCostUsd` when known: GroupChat adds it to the run's total, which also holds
    /// the earlier turns).
    public func post(_ transition: Transition, run id: String, text: String?, stepCostUsd: Double? = nil) async throws(StepFailure) -> GatedHTTP.Answer {
        var body: [String: JSONValue] = [:]
        switch transition {
        case .start: if let text { body["message"] = .string(text) }
        case .comment, .complete, .error: body["body"] = .string(text ?? "")
        }
        if let cost = stepCostUsd, cost.isFinite, cost >= 0, transition == .complete || transition == .error {
            body["stepCostUsd"] = .number(cost)
        }
        return try await send("POST", "/api/v1/agent/runs/" + GatedHTTP.pathSegment(id) + "/" + transition.rawValue,
                              body: JSONWriter.serialize(.object(body)))
    }

    func send(_ method: String, _ path: String, query: String = "", body: String? = nil) async throws(StepFailure) -> GatedHTTP.Answer {
        let auth = HTTPClient.Authorization.basic(username: token.current.text, password: "").headerValue
        return try await http.send(method: method, pathWithQuery: path + query, headers: [("Authorization", auth)], body: body,
                                   describe: "\(method) \(path)\(query)" + (body.map { " " + String($0.prefix(300)) } ?? ""),
                                   label: "\(method) \(path)")
    }
}
