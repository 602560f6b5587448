import AsyncHTTPClient
import Foundation
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

/// The two examples for the new targets, run by the built binary with their own shipped
/// configs against the strict fakes — and killed with `kill -9` while their steps wait
/// on the upstream, so the waits are shown to survive restarts without sending anything
/// twice.
@Suite(.serialized) struct TargetExampleTests {
    /// A copy of an example directory (config and rules), with `replacements` applied to
    /// its config, so a test can tune poll intervals without editing the example.
    static func example(_ name: String, _ replacements: [(String, String)] = []) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-example-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let source = Fixtures.repositoryRoot + "/examples/" + name
        var config = try String(contentsOfFile: source + "/taskbridge.json", encoding: .utf8)
        for (a, b) in replacements { config = config.replacingOccurrences(of: a, with: b) }
        try config.write(toFile: dir + "/taskbridge.json", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: source + "/rules.json", toPath: dir + "/rules.json")
        return dir
    }

    static let admin = [("Authorization", "Bearer e2e-admin")]

    static func jobs(_ web: WebClient, _ state: String) async throws -> [JSONValue] {
        let (_, jobs) = try await web.get("/admin/api/jobs?state=\(state)", headers: admin)
        return jobs["jobs"]?.arrayValue ?? []
    }

    /// examples/sentry-to-posthog: a Sentry error becomes a GroupChat task and a PostHog
    /// task with a run; the job waits on the run (killed meanwhile), and when the run
    /// opens a pull request the GroupChat task gets the link and moves to in review.
    @Test func sentryErrorBecomesAPostHogRunWhosePullRequestReachesTheTask() async throws {
        let groupchat = GroupChatFake()
        // Chaos on top of the kill: a create that PostHog applies but whose answer is
        // lost (reconciled by its marker, not sent again), a run start likewise (the
        // retry adopts the run it started), and polls that fail now and then.
        let posthog = PostHogFake(chaos: FakeChaos(serverError: 0.2, acceptedThenReset: 0.3,
                                                   only: ["POST \(PostHogFake.tasksRoute)", "POST \(PostHogFake.taskRoute)run/",
                                                          "GET \(PostHogFake.taskRoute)"]))
        posthog.mutate { $0.defaultRunScript = .completes(queuedPolls: 2, inProgressPolls: 4) }
        try await groupchat.start()
        try await posthog.start()
        let dir = try Self.example("sentry-to-posthog", [(#""projectId": { "env": "POSTHOG_PROJECT_ID" }"#,
                                                          // Half the polls fail (chaos), and each failure doubles the
                                                          // step's backoff: capped, or a dozen failures wait minutes.
                                                          #""projectId": { "env": "POSTHOG_PROJECT_ID" }, "poll": {"initialSeconds": 0.3, "maxSeconds": 0.5}, "retry": {"initialDelaySeconds": 0.1, "maxDelaySeconds": 1}"#)])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["SENTRY_CLIENT_SECRET": "e2e-sentry", "GROUPCHAT_BASE_URL": groupchat.baseURL, "GROUPCHAT_TOKEN": GroupChatFake.workspaceKey,
                   "POSTHOG_BASE_URL": posthog.baseURL, "POSTHOG_API_KEY": PostHogFake.personalKey, "POSTHOG_PROJECT_ID": "1",
                   "TASKBRIDGE_ADMIN_TOKEN": "e2e-admin"]
        try await withHTTPClient { client in
            var server = try BinaryProcess(config: dir + "/taskbridge.json", dataDir: dir + "/data", environment: env)
            var web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            let body = Fixtures.bytes("sentry/issue.created.json")
            let (status, _) = try await web.post("/hooks/sentry", headers: Signed.sentry(body, secret: "e2e-sentry", resource: "issue",
                                                                                       requestID: "ph-1"), body: body)
            #expect(status == 202)
            // The job waits on PostHog's run, holding nothing: kill the process then.
            let waiting = try await eventually(20) { try await Self.jobs(web, "waiting").count == 1 }
            #expect(waiting, "log:\n\(server.log.suffix(3000))")
            await server.kill9()
            server = try BinaryProcess(config: dir + "/taskbridge.json", dataDir: dir + "/data", environment: env)
            web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            let done = try await eventually(40) { try await Self.jobs(web, "succeeded").count == 1 }
            #expect(done, "log:\n\(server.log.suffix(3000))")

            let tasks = posthog.project()?.allTasks ?? []
            #expect(tasks.count == 1, "exactly one PostHog task for the event")
            #expect(tasks.first?.repository == "acme/api")
            #expect(tasks.first?.originProduct == "error_tracking")
            let runs = tasks.first.map { posthog.project()?.runs(ofTask: $0.id) ?? [] } ?? []
            #expect(runs.count == 1, "one run: the wait resumed after the restart instead of starting another")
            let task = try #require(groupchat.tasks.first)
            #expect(groupchat.tasks.count == 1)
            #expect(task["stageId"] == "st_review")
            let description = task["description"]?.stringValue ?? ""
            #expect(description.contains("Pull request by PostHog's coding agent: https://github.com/acme/api/pull/"), "\(description)")
            #expect(await server.terminate() == 0)
        }
        await posthog.stop()
        await groupchat.stop()
    }

    /// examples/feedback-summary: a widget message is summarised and classified by Zylon
    /// (the job waits on each interaction, killed meanwhile), and becomes a triage task
    /// in the project Zylon named, with the summary as its description.
    @Test func widgetMessageIsSummarisedByZylonIntoATaskInItsProject() async throws {
        let groupchat = GroupChatFake()
        // Chaos on the polls (a failed poll is retried; the chat itself is never re-sent).
        let zylon = ZylonFake(chaos: FakeChaos(serverError: 0.3, rateLimited: 0.1, only: ["GET /api/v1/app/interaction/{id}"]))
        zylon.script(.answer("A visitor cannot submit the signup form: the button does nothing in Safari 17.", after: 3),
                     .answer("Website\n", after: 1))
        try await groupchat.start()
        try await zylon.start()
        let dir = try Self.example("feedback-summary", [(#""project": "proj_feedback""#,
                                                         #""project": "proj_feedback", "retry": {"initialDelaySeconds": 0.05, "maxDelaySeconds": 0.3}"#)])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["GROUPCHAT_BASE_URL": groupchat.baseURL, "GROUPCHAT_TOKEN": GroupChatFake.workspaceKey,
                   "ZYLON_BASE_URL": zylon.baseURL, "ZYLON_TOKEN": ZylonFake.token, "ZYLON_ORG": ZylonFake.orgSlug,
                   "TASKBRIDGE_ADMIN_TOKEN": "e2e-admin"]
        try await withHTTPClient { client in
            var server = try BinaryProcess(config: dir + "/taskbridge.json", dataDir: dir + "/data", environment: env)
            var web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            let message = "The signup button does nothing in Safari 17 on the pricing page."
            let (status, _) = try await web.post("/hooks/widget", headers: [("Content-Type", "application/json")],
                                                 body: Array(#"{"message": "\#(message)", "page": "https://www.example.com/pricing"}"#.utf8))
            #expect(status == 202)
            let waiting = try await eventually(20) { try await Self.jobs(web, "waiting").count == 1 }
            #expect(waiting, "log:\n\(server.log.suffix(3000))")
            await server.kill9()
            server = try BinaryProcess(config: dir + "/taskbridge.json", dataDir: dir + "/data", environment: env)
            web = WebClient(client: client, base: "http://127.0.0.1:\(try await server.waitUntilListening())")
            let done = try await eventually(60) { try await Self.jobs(web, "succeeded").count == 1 }
            #expect(done, "log:\n\(server.log.suffix(3000))")
            #expect(zylon.interactions.count == 2, "one chat per step: none was sent again after the restart")
            let task = try #require(groupchat.tasks.first)
            #expect(groupchat.tasks.count == 1)
            #expect(task["projectId"] == "proj_web")
            #expect(task["description"]?.stringValue?.hasPrefix("A visitor cannot submit the signup form") == true)
            #expect(task["title"]?.stringValue == "Feedback: \(message)")
            #expect(await server.terminate() == 0)
        }
        await zylon.stop()
        await groupchat.stop()
    }
}
