import AsyncHTTPClient
import Foundation
import Testing
import TaskBridgeCore
import TaskBridgeTestSupport

/// `taskbridge demo`, as a newcomer runs it: it prints the console URL and a token, sends
/// the sample webhooks, and every one of them becomes delivered work at the fake.
@Suite struct DemoTests {
    @Test func theDemoTurnsItsSamplesIntoTasksAndTheConsoleShowsThem() async throws {
        let demo = try BinaryProcess(arguments: ["demo", "--port", "0", "--examples", Fixtures.repositoryRoot + "/examples"], environment: [:])
        #expect(await eventually(60) { demo.log.contains("Done.") || !demo.process.isRunning }, "\(demo.log)")
        let log = demo.log
        let url = try #require(log.split(separator: "\n").first { $0.contains("Console:") }?.split(separator: " ").last.map(String.init), "\(log)")
        let token = try #require(log.split(separator: "\n").first { $0.contains("Admin token:") }?.split(separator: " ").last.map(String.init), "\(log)")
        #expect(url.hasPrefix("http://127.0.0.1:") && url.hasSuffix("/admin/"))
        #expect(token.count == 48)
        #expect(log.contains("→ Sentry issue created: 202"))
        #expect(log.contains("GroupChat task_2: \"[Sentry] ReferenceError: blooopy is not defined\" — To do"))
        #expect(log.contains("GroupChat task_1: \"Update the README with new information\" — In review"), "the pull request moved its task")
        #expect(log.contains("GroupChat task_1: \"Update the README with new information\" — Done, completed"), "merged completes it")
        #expect(log.contains("GroupChat task_3: \"Feedback: The pricing page says 'contact us' but the form never sends.\" — Triage"))
        #expect(log.contains("GroupChat task_2: \"[Sentry] ReferenceError: blooopy is not defined\" — Done, completed"), "resolved completes it")

        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = WebClient(client: client, base: String(url.dropLast("/admin/".count)))
        let answer: (Int, JSONValue)
        do {
            answer = try await api.get("/admin/api/events", headers: [("Authorization", "Bearer \(token)")])
            try? await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
        let (status, events) = answer
        #expect(status == 200)
        let list = try #require(events["events"]?.arrayValue)
        #expect(list.count == 5)
        #expect(list.allSatisfy { $0["delivery"] == "delivered" }, "\(list.map { $0["delivery"] ?? JSONValue.null })")
        #expect(await demo.terminate() == 0, "Ctrl-C (SIGTERM) ends the demo cleanly")
    }

    /// The demo's payloads are copies of the test fixtures (whose origins SOURCES.md
    /// records); they must not drift apart.
    @Test(arguments: [("sentry-issue.created.json", "sentry/issue.created.json"),
                      ("github-pull_request.opened.json", "github/pull_request.opened.json"),
                      ("github-pull_request.closed.json", "github/pull_request.closed.json")])
    func theDemoSendsTheRealFixtures(_ demo: String, _ fixture: String) {
        #expect(Fixtures.repositoryFile("Sources/taskbridge/Demo/Payloads/" + demo) == Fixtures.bytes(fixture))
    }
}
