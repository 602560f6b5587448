import TaskBridgeCore

/// One call to the PostHog Tasks API of one project, described without credentials.
/// Paths end with a slash, as PostHog's own client sends them.
public struct PostHogRequest: Sendable, Hashable, CustomStringConvertible {
    /// What the call does: the dry run answers by it, without parsing paths.
    public enum Operation: Sendable, Hashable {
        case listTasks
        case createTask
        case getTask(String)
        case updateTask(String)
        case runTask(String)
        case getRun(task: String, run: String)
    }

    public var operation: Operation
    public var method: String
    /// Percent-encoded, from `/api/projects/{project_id}/`.
    public var path: String
    public var query: [(String, String)]
    public var body: JSONValue?

    public init(_ operation: Operation, projectId: String, query: [(String, String)] = [], body: JSONValue? = nil) {
        self.operation = operation
        self.query = query
        self.body = body
        let tasks = "/api/projects/\(GatedHTTP.pathSegment(projectId))/tasks/"
        switch operation {
        case .listTasks: (method, path) = ("GET", tasks)
        case .createTask: (method, path) = ("POST", tasks)
        case .getTask(let id): (method, path) = ("GET", tasks + GatedHTTP.pathSegment(id) + "/")
        case .updateTask(let id): (method, path) = ("PATCH", tasks + GatedHTTP.pathSegment(id) + "/")
        case .runTask(let id): (method, path) = ("POST", tasks + GatedHTTP.pathSegment(id) + "/run/")
        case .getRun(let task, let run): (method, path) = ("GET", tasks + GatedHTTP.pathSegment(task) + "/runs/" + GatedHTTP.pathSegment(run) + "/")
        }
    }

    public var pathWithQuery: String {
        query.isEmpty ? path : path + "?" + FormURLEncoding.encode(query)
    }

    public var serializedBody: String? { body.map(JSONWriter.serialize) }

    /// `PATCH /api/projects/1/tasks/…/ {"title":"…"}`: the form stored with attempts.
    public var description: String {
        var s = "\(method) \(pathWithQuery)"
        if let text = serializedBody { s += " " + text }
        return s
    }

    public static func == (a: PostHogRequest, b: PostHogRequest) -> Bool { a.description == b.description }
    public func hash(into h: inout Hasher) { h.combine(description) }
}

/// What PostHog's answers mean.
enum PostHogAnswers {
    /// PostHog's reason: `detail` (or `error`) of its `{"type","code","detail","attr"}`
    /// shape (the `run` action also answers `{"error": …}` and `{"detail": …}`), followed
    /// by `attr`, `code` and `type` (and a usage limit's `limit_type` and `reset_at`);
    /// else a bounded excerpt of the body.
    static func errorMessage(_ answer: GatedHTTP.Answer) -> String {
        let json = answer.json
        guard let message = json?["detail"]?.stringValue ?? json?["error"]?.stringValue else {
            let text = String(decoding: answer.body.prefix(300), as: UTF8.self)
            return text.isEmpty ? "(empty body)" : text
        }
        var parts: [String] = []
        for key in ["attr", "code", "type", "limit_type", "reset_at"] {
            if let v = json?[key]?.stringValue, !v.isEmpty { parts.append("\(key) \(v)") }
        }
        return parts.isEmpty ? message : "\(message) (\(parts.joined(separator: ", ")))"
    }

    /// When to try again: `Retry-After`, else a 429's `reset_at` (the `run` action's usage
    /// limit answers without the header).
    static func retryAfterSeconds(_ answer: GatedHTTP.Answer, now: Double) -> Double? {
        if let header = RetryPolicy.parseRetryAfter(answer.retryAfter, now: now) { return header }
        guard answer.status == 429, let reset = answer.json?["reset_at"]?.stringValue, let millis = ISO8601.parseMillis(reset) else {
            return nil
        }
        return max(0, Double(millis) / 1000 - now)
    }
}

/// Sends PostHog requests: over HTTP (``HTTPPostHogTransport``), or recorded for a dry
/// run (``PostHogRecordingTransport``).
public protocol PostHogTransport: Sendable {
    /// Throws only when no answer came back (a transport failure, an open breaker, a lost
    /// lease); any status is returned for ``call(_:wire:now:)`` to classify.
    func send(_ request: PostHogRequest) async throws(StepFailure) -> GatedHTTP.Answer
}

extension PostHogTransport {
    /// Sends and classifies, as for any single request (``FailureClass``): 2xx returns
    /// the answer; anything else throws a ``StepFailure`` with PostHog's reason and the
    /// time to retry at. Every request, failed or not, is recorded in `wire`.
    func call(_ request: PostHogRequest, wire: inout [WireRecord], now: Double) async throws(StepFailure) -> GatedHTTP.Answer {
        let answer = try await GatedHTTP.recording(request.description, in: &wire) { () async throws(StepFailure) in
            let a = try await send(request)
            return (a, a.record)
        }
        guard let failure = FailureClass.classify(status: answer.status) else { return answer }
        var reason = "\(request.method) \(request.path) answered \(answer.status): \(PostHogAnswers.errorMessage(answer))"
        if failure == .authentication {
            reason += " (check the target's token: a PostHog personal API key with task:read and task:write, and its projectId)"
        }
        throw StepFailure(failure, reason, status: answer.status, retryAfterSeconds: PostHogAnswers.retryAfterSeconds(answer, now: now),
                          sent: true)
    }
}
