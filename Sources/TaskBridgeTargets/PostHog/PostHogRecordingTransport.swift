import Foundation
import Synchronization
import TaskBridgeCore

/// A transport for dry runs: records each request (token redacted) and answers what
/// PostHog would, echoing the fields sent, so later steps can render. A created task is
/// `<new task N>` (slug `<slug of new task N>`), a started run `<new run N>` (queued), and a polled run has completed
/// with `output.pr_url` = `<pr_url of run …>`: a waiting step finishes after one poll,
/// so `taskbridge test` shows the whole sequence. Nothing leaves the process.
public final class PostHogRecordingTransport: PostHogTransport {
    private let counters = Mutex((tasks: 0, runs: 0))
    let log: RequestLog?

    public init(log: RequestLog? = nil) {
        self.log = log
    }

    /// The request with the headers the live transport sends, the token redacted. The
    /// path is shown decoded, so placeholders read as written.
    func planned(_ r: PostHogRequest) -> PlannedRequest {
        var headers: [(String, String)] = [("Authorization", "Bearer <redacted>"), ("Accept", "application/json")]
        if r.body != nil { headers.append(("Content-Type", "application/json")) }
        let path = r.pathWithQuery.removingPercentEncoding ?? r.pathWithQuery
        return PlannedRequest(method: r.method, path: path, headers: headers, body: r.body)
    }

    func next(_ key: WritableKeyPath<(tasks: Int, runs: Int), Int>) -> Int {
        counters.withLock { c -> Int in
            c[keyPath: key] += 1
            return c[keyPath: key]
        }
    }

    public func send(_ request: PostHogRequest) async throws(StepFailure) -> GatedHTTP.Answer {
        log?.append(planned(request))
        let body = request.body?.objectValue ?? [:]
        var answer: JSONValue
        switch request.operation {
        case .listTasks:
            answer = ["count": 0, "next": nil, "previous": nil, "results": []]
        case .createTask:
            let n = next(\.tasks)
            var task = body
            task["id"] = .string("<new task \(n)>")
            task["task_number"] = .number(Double(n))
            task["slug"] = .string("<slug of new task \(n)>")
            task["latest_run"] = .null
            answer = .object(task)
        case .getTask(let id):
            answer = ["id": .string(id), "latest_run": nil]
        case .updateTask(let id):
            var task = body
            task["id"] = .string(id)
            answer = .object(task)
        case .runTask(let id):
            let run: JSONValue = ["id": .string("<new run \(next(\.runs))>"), "task": .string(id), "status": "queued", "branch": nil,
                                  "output": nil, "error_message": nil]
            answer = ["id": .string(id), "latest_run": run]
        case .getRun(let task, let run):
            answer = ["id": .string(run), "task": .string(task), "status": "completed", "branch": nil, "error_message": nil,
                      "output": ["pr_url": .string("<pr_url of run \(run)>")]]
        }
        return GatedHTTP.Answer(status: 200, body: JSONWriter.serializeBytes(answer),
                                record: WireRecord(request: request.description, status: 200, latencyMillis: 0, response: nil))
    }
}

/// Sends through `primary` and records each request too (for `--live` output).
struct PostHogTeeTransport: PostHogTransport {
    let primary: any PostHogTransport
    let recorder: PostHogRecordingTransport

    func send(_ request: PostHogRequest) async throws(StepFailure) -> GatedHTTP.Answer {
        recorder.log?.append(recorder.planned(request))
        return try await primary.send(request)
    }
}
