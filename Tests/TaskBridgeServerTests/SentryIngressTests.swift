import Testing
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTestSupport

@Suite struct SentryIngressTests {
    let issue = Fixtures.bytes("sentry/issue.created.json")

    @Test func typeComesFromTheResourceHeaderAndAction() async throws {
        try await withBridge { bridge async throws in
            let response = try await bridge.sentry(issue, resource: "issue", requestID: "req-1")
            #expect(response.status.code == 202)
            let detail = try #require(try await bridge.store.eventDetail(id: response.json["event"]?.stringValue ?? ""))
            #expect(detail.event.type == "issue.created")
            #expect(detail.event.dedupeKey == "req-1")
            #expect(detail.jobs.map(\.ruleId) == ["sentry-issue-task"])
            let repeatRequest = try await bridge.sentry(issue, resource: "issue", requestID: "req-1")
            #expect(repeatRequest.status.code == 200)
        }
    }

    /// The signature covers the bytes sent; the same JSON re-serialized differently is
    /// a different body.
    @Test func verifiesTheExactBytesReceived() async throws {
        try await withBridge { bridge async throws in
            let reserialized = JSONWriter.serializeBytes(try Fixtures.json("sentry/issue.created.json"))
            #expect(reserialized != issue)
            var headers = Signed.sentry(issue, secret: TestEnv.sentrySecret, resource: "issue", requestID: "r")
            let response = try await bridge.post("/hooks/sentry", headers, reserialized)
            #expect(response.status.code == 401)
            #expect(response.json["error"] == "Sentry-Hook-Signature does not match the body for any configured client secret")
            headers.removeAll { $0.0 == "Request-ID" }
            let noRequestID = try await bridge.post("/hooks/sentry", headers, issue)
            #expect(noRequestID.status.code == 400)
            #expect(noRequestID.json["error"] == "missing Request-ID header")
        }
    }
}
