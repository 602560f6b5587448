import Foundation
import Testing
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTestSupport

@Suite struct GitHubIngressTests {
    let pr = Fixtures.bytes("github/pull_request.opened.json")

    @Test func acceptsASignedDeliveryOnceAndReportsRepeats() async throws {
        try await withBridge { bridge async throws in
            let first = try await bridge.github(pr, event: "pull_request", delivery: "del-1")
            #expect(first.status.code == 202)
            let id = try #require(first.json["event"]?.stringValue)
            #expect(id.hasPrefix("evt_"))
            #expect(first.json["duplicate"] == false)
            let again = try await bridge.github(pr, event: "pull_request", delivery: "del-1")
            #expect(again.status.code == 200)
            #expect(again.json == ["event": .string(id), "duplicate": true])
            let stored = try #require(try await bridge.store.eventDetail(id: id))
            #expect(stored.event.type == "pull_request.opened")
            #expect(stored.event.dedupeKey == "del-1")
            #expect(stored.event.body == pr)
            #expect(stored.event.headers["x-github-event"] == "pull_request")
            #expect(stored.event.headers["x-hub-signature-256"] == nil, "signatures are not kept")
            #expect(try await bridge.store.listEvents(EventFilter()).count == 1)
        }
    }

    @Test func refusesABadSignatureWithoutEchoingTheExpectedOne() async throws {
        try await withBridge { bridge async throws in
            var headers = Signed.github(pr, secret: "wrong-secret", event: "pull_request", delivery: "d")
            let expected = HMACSignature.sign(pr, secret: Secret(TestEnv.githubSecret))
            let response = try await bridge.post("/hooks/github", headers, pr)
            #expect(response.status.code == 401)
            #expect(response.json["error"] == "X-Hub-Signature-256 does not match the body for any configured secret")
            #expect(!response.text.contains(expected))
            #expect(!response.text.contains(TestEnv.githubSecret))
            headers.removeAll { $0.0 == "X-Hub-Signature-256" }
            let missing = try await bridge.post("/hooks/github", headers, pr)
            #expect(missing.status.code == 401)
            #expect(missing.json["error"] == "missing X-Hub-Signature-256 header")
            #expect(try await bridge.store.listEvents(EventFilter()).isEmpty)
        }
    }

    @Test func acceptsEitherRotationSecret() async throws {
        try await withBridge { bridge async throws in
            #expect(try await bridge.github(pr, event: "pull_request", delivery: "a", secret: TestEnv.githubOldSecret).status.code == 202)
            #expect(try await bridge.github(pr, event: "pull_request", delivery: "b", secret: TestEnv.githubSecret).status.code == 202)
        }
    }

    @Test func acceptsFormEncodedPayloads() async throws {
        try await withBridge { bridge async throws in
            let form = Array(FormURLEncoding.encode([("payload", String(decoding: pr, as: UTF8.self))]).utf8)
            let response = try await bridge.post(
                "/hooks/github",
                Signed.github(form, secret: TestEnv.githubSecret, event: "pull_request", delivery: "form-1",
                              contentType: "application/x-www-form-urlencoded"), form)
            #expect(response.status.code == 202)
            let id = try #require(response.json["event"]?.stringValue)
            #expect(try await bridge.store.eventDetail(id: id)?.event.type == "pull_request.opened")
        }
    }

    @Test func storesPingButPlansNoWork() async throws {
        try await withBridge { bridge async throws in
            let response = try await bridge.github(Fixtures.bytes("github/ping.json"), event: "ping", delivery: "ping-1")
            #expect(response.status.code == 202)
            let detail = try #require(try await bridge.store.eventDetail(id: response.json["event"]?.stringValue ?? ""))
            #expect(detail.event.status == "ignored")
            #expect(detail.jobs.isEmpty)
        }
    }

    @Test(arguments: [
        (["Content-Type": "text/xml"], 415, "unsupported Content-Type \"text/xml\"; send application/json or application/x-www-form-urlencoded"),
        ([:], 415, "missing Content-Type header; send application/json or application/x-www-form-urlencoded"),
    ])
    func refusesUnsupportedContentTypes(headers: [String: String], status: Int, message: String) async throws {
        try await withBridge { bridge async throws in
            let response = try await bridge.post("/hooks/github", headers.map { ($0.key, $0.value) }, pr)
            #expect(response.status.code == status)
            #expect(response.json["error"]?.stringValue == message)
        }
    }

    @Test func refusesMalformedJSONAndMissingHeaders() async throws {
        try await withBridge { bridge async throws in
            let broken = Array("{\"action\": \"opened\", ".utf8)
            let bad = try await bridge.github(broken, event: "pull_request", delivery: "x")
            #expect(bad.status.code == 400)
            #expect(bad.json["error"]?.stringValue?.hasPrefix("body is not valid JSON: malformed JSON at byte") == true)
            var headers = Signed.github(pr, secret: TestEnv.githubSecret, event: "pull_request", delivery: "y")
            headers.removeAll { $0.0 == "X-GitHub-Delivery" }
            let noDelivery = try await bridge.post("/hooks/github", headers, pr)
            #expect(noDelivery.status.code == 400)
            #expect(noDelivery.json["error"] == "missing X-GitHub-Delivery header")
            #expect(try await bridge.store.listEvents(EventFilter()).isEmpty)
        }
    }

    /// The real pull_request.opened delivery with the "o" of "information" in its title
    /// replaced by the byte 0xFF, signed as sent: 400 naming the offset, nothing stored.
    @Test func refusesInvalidUTF8WithItsOffset() async throws {
        let (body, at) = Fixtures.bytes("github/pull_request.opened", replacing: "new information.", with: Array("new inf".utf8) + [0xFF] + Array("rmation.".utf8))
        try await withBridge { bridge async throws in
            let response = try await bridge.github(body, event: "pull_request", delivery: "utf8")
            #expect(response.status.code == 400)
            #expect(response.json["error"] == .string("invalid UTF-8 in JSON body at byte \(at + 7): 0xFF never appears in UTF-8; JSON text must be UTF-8"))
            #expect(try await bridge.store.listEvents(EventFilter()).isEmpty)
        }
    }

    @Test func refusesBodiesOverTheSourceLimit() async throws {
        try await withBridge { bridge async throws in
            let big = Array(repeating: UInt8(ascii: " "), count: 70_000) + pr
            let response = try await bridge.github(big, event: "pull_request", delivery: "big")
            #expect(response.status.code == 413)
            #expect(response.json["error"] == "body of 98011 bytes exceeds the 65536-byte limit of source \"github\"")
        }
    }

    @Test func unknownSourceIs404() async throws {
        try await withBridge { bridge async throws in
            let response = try await bridge.post("/hooks/jira", [("Content-Type", "application/json")], Array("{}".utf8))
            #expect(response.status.code == 404)
            #expect(response.json["error"] == "unknown source \"jira\"")
        }
    }

    @Test func aSourceWithoutItsSecretAnswers503() async throws {
        var env = TestEnv.values
        env["TEST_GH_SECRET"] = nil
        env["TEST_GH_SECRET_OLD"] = nil
        try await withBridge(env: env) { bridge async throws in
            let response = try await bridge.github(pr, event: "pull_request", delivery: "d")
            #expect(response.status.code == 503)
            #expect(response.headers[.retryAfter] == "60")
            #expect(response.json["error"] == "source \"github\" is not configured: its secret is not set")
            // Other sources keep working.
            let sentry = try await bridge.sentry(Fixtures.bytes("sentry/issue.created.json"), resource: "issue", requestID: "r1")
            #expect(sentry.status.code == 202)
        }
    }

    @Test func servesUnderAPathPrefix() async throws {
        try await withBridge(config: testConfig(server: #"{"pathPrefix": "/taskbridge"}"#)) { bridge async throws in
            let headers = Signed.github(pr, secret: TestEnv.githubSecret, event: "pull_request", delivery: "p1")
            #expect(try await bridge.post("/taskbridge/hooks/github", headers, pr).status.code == 202)
            #expect(try await bridge.post("/hooks/github", headers, pr).status.code == 404)
            #expect(try await bridge.get("/taskbridge/healthz").status.code == 200)
            #expect(try await bridge.get("/healthz").status.code == 200)
        }
    }
}
