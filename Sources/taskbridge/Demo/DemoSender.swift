import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeStore
import UpstreamFakes

/// Sends the demo's webhooks one after another, signed as the providers sign them, and
/// after each says what happened at the (fake) GroupChat.
struct DemoSender: Sendable {
    let base: String
    let setup: DemoSetup
    let runtime: TaskBridgeRuntime
    let fake: GroupChatFake

    func sendSamples(readmeTask: String) async {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        await send(client, readmeTask: readmeTask)
        try? await client.shutdown()
    }

    func send(_ client: HTTPClient, readmeTask: String) async {
        let run = UUID().uuidString.prefix(8).lowercased()
        let steps: [(String, String, [UInt8], [(String, String)])] = [
            ("Sentry issue created", "sentry", DemoPayloads.sentryIssueCreated,
             sentryHeaders(DemoPayloads.sentryIssueCreated, requestID: "demo-\(run)-1")),
            ("GitHub pull request opened for \(readmeTask)", "github", DemoPayloads.pullRequestOpened(task: readmeTask),
             githubHeaders(DemoPayloads.pullRequestOpened(task: readmeTask), event: "pull_request", delivery: "demo-\(run)-2")),
            ("Widget feedback submitted", "widget", DemoPayloads.widgetMessage,
             [("Content-Type", "application/json"), ("Idempotency-Key", "demo-\(run)-3")]),
            ("GitHub pull request merged", "github", DemoPayloads.pullRequestMerged(task: readmeTask),
             githubHeaders(DemoPayloads.pullRequestMerged(task: readmeTask), event: "pull_request", delivery: "demo-\(run)-4")),
            ("Sentry issue resolved", "sentry", DemoPayloads.sentryIssueResolved,
             sentryHeaders(DemoPayloads.sentryIssueResolved, requestID: "demo-\(run)-5")),
        ]
        for (title, source, body, headers) in steps {
            guard !Task.isCancelled else { return }
            var request = HTTPClientRequest(url: "\(base)/hooks/\(source)")
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                let response = try await client.execute(request, timeout: .seconds(10))
                let answer = try await response.body.collect(upTo: 1 << 16)
                let event = (try? JSONParser.parse(Array(buffer: answer)))?["event"]?.stringValue
                say("→ \(title): \(response.status.code)\(event.map { " (event \($0))" } ?? "")")
                if let event { await waitForJobs(event) }
            } catch {
                say("→ \(title): not sent (\(error))")
            }
            say(describeTasks())
        }
        say("\nDone. Open the console to see each event, its jobs and every request TaskBridge sent.\n")
    }

    /// Waits (at most 15 s) until the event's jobs have all finished.
    func waitForJobs(_ event: String) async {
        for _ in 0..<150 {
            if let detail = try? await runtime.store.eventDetail(id: event),
               detail.jobs.allSatisfy({ $0.state == JobState.succeeded.rawValue || $0.state == JobState.dead.rawValue }) { return }
            try? await Task.sleep(nanoseconds: 100_000_000)
        }
    }

    func describeTasks() -> String {
        let stages = Dictionary(uniqueKeysWithValues: fake.workspace.statuses.compactMap { s in
            s["id"]?.stringValue.map { ($0, s["title"]?.stringValue ?? $0) }
        })
        return fake.tasks.map { t in
            let id = t["id"]?.stringValue ?? "?"
            let stage = t["stageId"]?.stringValue.flatMap { stages[$0] } ?? "?"
            let done = t["completed"]?.boolValue == true ? ", completed" : ""
            return "    GroupChat \(id): \"\(t["title"]?.stringValue ?? "")\" — \(stage)\(done)"
        }.joined(separator: "\n")
    }

    func githubHeaders(_ body: [UInt8], event: String, delivery: String) -> [(String, String)] {
        [("Content-Type", "application/json"), ("X-GitHub-Event", event), ("X-GitHub-Delivery", delivery),
         ("X-Hub-Signature-256", "sha256=" + HMACSignature.sign(body, secret: Secret(setup.githubSecret))),
         ("User-Agent", "GitHub-Hookshot/taskbridge-demo")]
    }

    func sentryHeaders(_ body: [UInt8], requestID: String) -> [(String, String)] {
        [("Content-Type", "application/json"), ("Sentry-Hook-Resource", "issue"), ("Request-ID", requestID),
         ("Sentry-Hook-Timestamp", String(Int(Date().timeIntervalSince1970))),
         ("Sentry-Hook-Signature", HMACSignature.sign(body, secret: Secret(setup.sentrySecret)))]
    }
}
