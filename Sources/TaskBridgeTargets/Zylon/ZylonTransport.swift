import TaskBridgeCore

/// One call to Zylon's Workspace API, described without credentials.
public struct ZylonRequest: Sendable, Hashable, CustomStringConvertible {
    public var method: String
    public var path: String
    public var body: JSONValue?

    public init(method: String, path: String, body: JSONValue? = nil) {
        self.method = method
        self.path = path
        self.body = body
    }

    public var serializedBody: String? { body.map(JSONWriter.serialize) }

    /// `POST /api/v1/app/project/p/chat {"pgpt":…}`: the form stored with attempts and
    /// printed by dry runs.
    public var description: String {
        var s = "\(method) \(path)"
        if let text = serializedBody { s += " " + text }
        return s
    }

    /// `POST /api/v1/app/project/{projectID}/chat`.
    static func chat(project: String, body: JSONValue) -> ZylonRequest {
        ZylonRequest(method: "POST", path: "/api/v1/app/project/\(GatedHTTP.pathSegment(project))/chat", body: body)
    }

    /// `GET /api/v1/app/interaction/{interactionID}`.
    static func interaction(_ id: String) -> ZylonRequest {
        ZylonRequest(method: "GET", path: "/api/v1/app/interaction/\(GatedHTTP.pathSegment(id))")
    }
}

/// Sends Zylon requests: over HTTP through the target's gate (``HTTPZylonTransport``),
/// or into a dry run's request log (``ZylonDryRunTransport``).
public protocol ZylonTransport: Sendable {
    /// Throws only when no answer came back (a transport failure, an open breaker, a
    /// lost lease); any HTTP status is returned for the connector to classify.
    func send(_ request: ZylonRequest) async throws(StepFailure) -> GatedHTTP.Answer
}

/// Sends through `primary` and records each request too (`taskbridge test --live`).
struct ZylonTeeTransport: ZylonTransport {
    let primary: any ZylonTransport
    let recorder: ZylonDryRunTransport

    func send(_ request: ZylonRequest) async throws(StepFailure) -> GatedHTTP.Answer {
        recorder.record(request)
        return try await primary.send(request)
    }
}
