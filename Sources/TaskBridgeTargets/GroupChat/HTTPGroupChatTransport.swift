import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import TaskBridgeCore

/// The live transport: async-http-client, bearer token (`gck_` workspace key, or `gcp_`
/// personal token with `X-Workspace-Id`), `Idempotency-Key` on writes, every request
/// through the target's ``TargetGate``.
public final class HTTPGroupChatTransport: GroupChatTransport {
    let client: HTTPClient
    let baseURL: String
    private let credentials: Mutex<GroupChatCredentials>
    let timeout: TimeAmount
    let timeoutSeconds: Double
    let gate: TargetGate
    let wallClock: @Sendable () -> Double

    public init(client: HTTPClient, baseURL: String, credentials: GroupChatCredentials, timeoutSeconds: Double,
                gate: TargetGate, wallClock: @escaping @Sendable () -> Double) {
        self.client = client
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.credentials = Mutex(credentials)
        self.timeout = .milliseconds(Int64(timeoutSeconds * 1000))
        self.timeoutSeconds = timeoutSeconds
        self.gate = gate
        self.wallClock = wallClock
    }

    public static let maxResponseBytes = 32 << 20

    /// Swaps in credentials read again on reload (a rotated token file). Returns whether
    /// they differ from the ones in use.
    @discardableResult
    public func replaceCredentials(_ new: GroupChatCredentials) -> Bool {
        credentials.withLock { current in
            guard current.token.text != new.token.text || current.workspaceId != new.workspaceId else { return false }
            current = new
            return true
        }
    }

    public func send(_ request: GroupChatRequest) async throws(StepFailure) -> (GroupChatResponse, WireRecord) {
        var request = request
        request.bodyText = request.serializedBody  // once: for the wire and for the attempt record
        try await gate.acquire()
        if let guardian = SendGuards.current {
            do throws(StepFailure) {
                try await guardian.admit(forSeconds: timeoutSeconds + 1)
            } catch {
                gate.release(healthy: nil)
                throw error
            }
        }
        var http = HTTPClientRequest(url: baseURL + request.pathWithQuery)
        http.method = HTTPMethod(rawValue: request.method)
        for (name, value) in credentials.withLock({ $0.headers }) { http.headers.add(name: name, value: value) }
        http.headers.add(name: "Accept", value: "application/json")
        http.headers.add(name: "User-Agent", value: "TaskBridge")
        if let key = request.idempotencyKey { http.headers.add(name: "Idempotency-Key", value: key) }
        if let text = request.bodyText {
            http.headers.add(name: "Content-Type", value: "application/json")
            http.body = .bytes(ByteBuffer(string: text))
        }
        let started = ContinuousClock.now
        func elapsed() -> Double {
            let d = ContinuousClock.now - started
            return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        }
        do {
            let response = try await client.execute(http, timeout: timeout)
            let bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
            let status = Int(response.status.code)
            let refused = status == 401 || status == 403
            gate.release(healthy: status >= 500 ? false : (status == 429 || refused ? nil : true), authRefused: refused)
            let result = GroupChatResponse(status: status, body: Array(buffer: bytes), retryAfter: response.headers.first(name: "Retry-After"))
            let excerpt = String(decoding: result.body.prefix(2000), as: UTF8.self)
            return (result, WireRecord(request: request.description, status: status, latencyMillis: elapsed(), response: excerpt))
        } catch {
            gate.release(healthy: false)
            let failure = Self.classify(error)
            throw StepFailure(.retryable, "\(request.method) \(request.path) failed: \(failure.description)", sent: failure.sent)
        }
    }

    /// Transport errors: a connection that never opened cannot have delivered anything;
    /// anything later (timeout, reset) may have.
    static func classify(_ error: any Error) -> TransportFailure {
        if let e = error as? HTTPClientError {
            switch e {
            case .connectTimeout: return TransportFailure(kind: .connect, sent: false, detail: "connect timeout")
            case .deadlineExceeded, .readTimeout, .writeTimeout: return TransportFailure(kind: .timeout, sent: true, detail: "timed out")
            case .remoteConnectionClosed: return TransportFailure(kind: .reset, sent: true, detail: "connection closed by the target")
            case .getConnectionFromPoolTimeout: return TransportFailure(kind: .connect, sent: false, detail: "no connection available")
            default: return TransportFailure(kind: .other, sent: true, detail: "\(e)")
            }
        }
        if error is NIOConnectionError { return TransportFailure(kind: .connect, sent: false, detail: "cannot connect") }
        if let io = error as? IOError {
            let refused = io.errnoCode == 111 || io.errnoCode == 113 || io.errnoCode == 101
            return TransportFailure(kind: refused ? .connect : .reset, sent: !refused, detail: io.description)
        }
        if error is ChannelError { return TransportFailure(kind: .reset, sent: true, detail: "\(error)") }
        return TransportFailure(kind: .other, sent: true, detail: "\(error)")
    }
}

/// GroupChat credentials. A personal access token (`gcp_`) is user-scoped and needs a
/// workspace id on every request; a workspace key (`gck_`) carries its workspace.
public struct GroupChatCredentials: Sendable {
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
