import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import TaskBridgeCore

/// One HTTP request to a target, sent the way every live connector must send it: through
/// the target's ``TargetGate`` (concurrency, rate limit, breaker, auth pause), admitted by
/// the job's ``SendGuard`` (its lease outlasts the request), with a bounded response; the
/// gate learns the outcome, and a transport failure says whether the request may have
/// been delivered. Classifying the HTTP status is the caller's: each upstream words its
/// errors differently.
public struct GatedHTTP: Sendable {
    public let client: HTTPClient
    /// Without a trailing slash.
    public let baseURL: String
    public let timeoutSeconds: Double
    public let gate: TargetGate
    /// The statuses that mean "credentials refused" to the gate (a probe of a paused
    /// target that gets one stays a failed probe). Zylon's 403 is "not a project member",
    /// a step's problem, so its transport names 401 only.
    public let authRefusals: Set<Int>

    public static let maxResponseBytes = 32 << 20

    public init(client: HTTPClient, baseURL: String, timeoutSeconds: Double, gate: TargetGate, authRefusals: Set<Int> = [401, 403]) {
        self.client = client
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.timeoutSeconds = timeoutSeconds
        self.gate = gate
        self.authRefusals = authRefusals
    }

    /// What came back, and the attempt record for it (the request as `describe` said it,
    /// the status, and an excerpt of the body — never a header).
    public struct Answer: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var retryAfter: String?
        public var record: WireRecord

        public init(status: Int, body: [UInt8], retryAfter: String? = nil, record: WireRecord) {
            self.status = status
            self.body = body
            self.retryAfter = retryAfter
            self.record = record
        }

        public var json: JSONValue? { try? JSONParser.parse(body) }
    }

    /// Sends with `send` and keeps its attempt record in `wire`: the answer's, or, when
    /// no answer came, one with the failure's reason (none when the gate refused the
    /// request unsent: an open breaker or a paused target).
    public static func recording<Response>(_ description: String, in wire: inout [WireRecord],
                                           _ send: () async throws(StepFailure) -> (Response, WireRecord)) async throws(StepFailure) -> Response {
        do {
            let (response, record) = try await send()
            wire.append(record)
            return response
        } catch {
            if !error.breakerOpen { wire.append(WireRecord(request: description, status: nil, latencyMillis: 0, response: error.reason)) }
            throw error
        }
    }

    /// Percent-encodes all but RFC 3986's unreserved characters, so an id from a template
    /// (`a/b`, `x?y`) can never reach another route than the one it is put in.
    public static func pathSegment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }

    /// Sends `method pathWithQuery` with `headers` (credentials among them) and a JSON
    /// `body`. `describe` is the request as attempt records show it; `label` (`POST /path`)
    /// names it in a transport failure.
    public func send(method: String, pathWithQuery: String, headers: [(String, String)], body: String?, describe: String,
                     label: String) async throws(StepFailure) -> Answer {
        try await gate.acquire()
        if let guardian = SendGuards.current {
            do throws(StepFailure) {
                try await guardian.admit(forSeconds: timeoutSeconds + 1)
            } catch {
                gate.release(healthy: nil)
                throw error
            }
        }
        var http = HTTPClientRequest(url: baseURL + pathWithQuery)
        http.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { http.headers.add(name: name, value: value) }
        http.headers.add(name: "Accept", value: "application/json")
        http.headers.add(name: "User-Agent", value: "TaskBridge")
        if let body {
            http.headers.add(name: "Content-Type", value: "application/json")
            http.body = .bytes(ByteBuffer(string: body))
        }
        let started = ContinuousClock.now
        func elapsed() -> Double {
            let d = ContinuousClock.now - started
            return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        }
        do {
            let response = try await client.execute(http, timeout: .milliseconds(Int64(timeoutSeconds * 1000)))
            let bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
            let status = Int(response.status.code)
            let refused = authRefusals.contains(status)
            gate.release(healthy: status >= 500 ? false : (status == 429 || refused ? nil : true), authRefused: refused)
            let body = Array(buffer: bytes)
            let excerpt = String(decoding: body.prefix(2000), as: UTF8.self)
            return Answer(status: status, body: body, retryAfter: response.headers.first(name: "Retry-After"),
                          record: WireRecord(request: describe, status: status, latencyMillis: elapsed(), response: excerpt))
        } catch {
            gate.release(healthy: false)
            let failure = Self.classify(error)
            throw StepFailure(.retryable, "\(label) failed: \(failure.description)", sent: failure.sent)
        }
    }

    /// Transport errors: a connection that never opened cannot have delivered anything;
    /// anything later (timeout, reset) may have.
    public static func classify(_ error: any Error) -> TransportFailure {
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
