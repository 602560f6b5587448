import Foundation
import Testing
@testable import TaskBridgeCore

@Suite struct ConsoleSessionTests {
    let token = Secret("admin-token-for-tests")
    let random: [UInt8] = Array(0..<16)

    @Test func aSignedSessionIsAcceptedUntilItExpires() throws {
        let session = ConsoleSession.issue(now: 1_000, lifetimeSeconds: 3_600, random: random)
        #expect(session.id == "000102030405060708090a0b0c0d0e0f")
        #expect(session.expiresAt == 4_600)
        let cookie = session.cookieValue(adminToken: token)
        #expect(cookie.hasPrefix("v1.000102030405060708090a0b0c0d0e0f.4600."))
        #expect(ConsoleSession.verify(cookie, adminToken: token, now: 4_599) == session)
        #expect(ConsoleSession.verify(cookie, adminToken: token, now: 4_600) == nil, "expired")
    }

    @Test func aCookieSignedWithAnotherTokenOrChangedIsRefused() {
        let session = ConsoleSession.issue(now: 0, lifetimeSeconds: 100, random: random)
        let cookie = session.cookieValue(adminToken: token)
        #expect(ConsoleSession.verify(cookie, adminToken: Secret("rotated-token"), now: 1) == nil)
        // A longer life written into the cookie breaks its signature.
        let extended = cookie.replacingOccurrences(of: ".100.", with: ".999999.")
        #expect(extended != cookie)
        #expect(ConsoleSession.verify(extended, adminToken: token, now: 1) == nil)
        var flipped = Array(cookie)
        flipped[flipped.count - 1] = flipped[flipped.count - 1] == "0" ? "1" : "0"
        #expect(ConsoleSession.verify(String(flipped), adminToken: token, now: 1) == nil)
        for junk in ["", "v1", "v1...", "v2.000102030405060708090a0b0c0d0e0f.100.00", "v1.XYZ.100.00",
                     "v1.000102030405060708090a0b0c0d0e0f.notanumber.00", String(repeating: "v1.", count: 1000)] {
            #expect(ConsoleSession.verify(junk, adminToken: token, now: 1) == nil, "\(junk.prefix(40))")
        }
    }

    @Test func theCSRFTokenBelongsToOneSessionAndOneAdminToken() {
        let a = ConsoleSession.issue(now: 0, lifetimeSeconds: 100, random: random)
        let b = ConsoleSession.issue(now: 0, lifetimeSeconds: 100, random: Array(repeating: 7, count: 16))
        let csrf = a.csrfToken(adminToken: token)
        #expect(csrf.count == 64)
        #expect(a.acceptsCSRF(csrf, adminToken: token))
        #expect(!b.acceptsCSRF(csrf, adminToken: token))
        #expect(!a.acceptsCSRF(csrf, adminToken: Secret("rotated-token")))
        #expect(!a.acceptsCSRF(nil, adminToken: token))
        #expect(!a.acceptsCSRF("", adminToken: token))
        #expect(csrf != a.cookieValue(adminToken: token).split(separator: ".").last.map(String.init), "not the cookie's signature")
    }

    @Test func signInIsThrottledPerClientAfterFailuresOnly() {
        var throttle = SignInThrottle(burst: 3, perMinute: 6)
        for _ in 0..<3 {
            #expect(throttle.retryAfter(client: "203.0.113.9", now: 0) == nil)
            throttle.recordFailure(client: "203.0.113.9", now: 0)
        }
        let wait = throttle.retryAfter(client: "203.0.113.9", now: 0)
        #expect(wait.map { $0 > 9 && $0 <= 10 } == true, "one try per 10 s after the burst: \(String(describing: wait))")
        #expect(throttle.retryAfter(client: "198.51.100.1", now: 0) == nil, "other clients are not held back")
        #expect(throttle.retryAfter(client: "203.0.113.9", now: 10) == nil, "a failure's token comes back")
        // Asking never spends.
        for _ in 0..<100 { _ = throttle.retryAfter(client: "198.51.100.1", now: 0) }
        #expect(throttle.retryAfter(client: "198.51.100.1", now: 0) == nil)
    }

    @Test func deliveryStatusSaysHowFarAnEventsWorkHasGot() {
        #expect(DeliveryStatus.of([]) == .none)
        #expect(DeliveryStatus.of([("pending", nil, 0), ("running", nil, 0)]) == .planned)
        #expect(DeliveryStatus.of([("succeeded", nil, 0), ("waiting", nil, 0)]) == .planned)
        #expect(DeliveryStatus.of([("succeeded", nil, 0), ("pending", "HTTP 503", 0)]) == .failed)
        #expect(DeliveryStatus.of([("succeeded", "HTTP 503 then fine", 0), ("succeeded", nil, 0)]) == .delivered)
        #expect(DeliveryStatus.of([("succeeded", nil, 0), ("dead", "HTTP 400", 0), ("pending", "HTTP 503", 0)]) == .dead)
        // A replay's jobs speak for the event; the dead letter it replaced does not.
        #expect(DeliveryStatus.of([("dead", "HTTP 400", 0), ("succeeded", nil, 1)]) == .delivered)
        #expect(DeliveryStatus.of([("succeeded", nil, 0), ("pending", nil, 1)]) == .planned)
    }

    @Test func htmlEscapingCoversMarkupAndQuotes() {
        #expect(HTMLText.escape(#"<script>alert("x")</script> & 'y'"#) == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;")
        #expect(HTMLText.escape("Grüße 👋") == "Grüße 👋")
    }

    @Test func httpsIsBelievedOnlyFromATrustedProxy() throws {
        let resolver = ClientAddressResolver(trustedProxies: [try #require(CIDR("127.0.0.1/32"))])
        #expect(resolver.isHTTPS(peer: "127.0.0.1", forwardedProto: ["https"], forwarded: []))
        #expect(!resolver.isHTTPS(peer: "127.0.0.1", forwardedProto: ["http"], forwarded: []))
        #expect(!resolver.isHTTPS(peer: "203.0.113.9", forwardedProto: ["https"], forwarded: []), "not a proxy of ours")
        #expect(resolver.isHTTPS(peer: "127.0.0.1", forwardedProto: [], forwarded: ["for=203.0.113.9;proto=https"]))
        #expect(resolver.isHTTPS(peer: "127.0.0.1", forwardedProto: [], forwarded: [#"for="[2001:db8::1]";Proto="HTTPS""#]))
        #expect(!resolver.isHTTPS(peer: "127.0.0.1", forwardedProto: [], forwarded: ["proto=https, for=10.0.0.1;proto=http"]))
        #expect(!resolver.isHTTPS(peer: nil, forwardedProto: ["https"], forwarded: []))
        #expect(!resolver.isHTTPS(peer: "127.0.0.1", forwardedProto: [], forwarded: []))
    }
}

@Suite struct TaskLinkTemplateTests {
    @Test func fillsTheTasksFieldsPercentEncoded() throws {
        let link = try TaskLinkTemplate.parse("https://groupchat.ai/workspace/ws_1/projects/{projectId}/tasks/{id}").get()
        #expect(link.url(for: ["id": "task_7", "projectId": "proj_eng"]) == "https://groupchat.ai/workspace/ws_1/projects/proj_eng/tasks/task_7")
        #expect(link.url(for: ["id": "a/../b?x=1#y", "projectId": "p"]) == "https://groupchat.ai/workspace/ws_1/projects/p/tasks/a%2F..%2Fb%3Fx%3D1%23y",
                "a task field cannot change where the link points")
        #expect(link.url(for: ["id": 42, "projectId": "p"]) == "https://groupchat.ai/workspace/ws_1/projects/p/tasks/42")
        #expect(link.url(for: ["id": "task_7"]) == nil, "a missing field: no link rather than a broken one")
        #expect(link.url(for: ["id": "", "projectId": "p"]) == nil)
        #expect(link.url(for: ["id": true, "projectId": "p"]) == nil)
    }

    @Test(arguments: [
        ("groupchat.ai/tasks/{id}", "must be an http(s) URL with {id} where the task's id goes"),
        ("javascript:alert({id})", "must be an http(s) URL with {id} where the task's id goes"),
        ("https://groupchat.ai/tasks", "must contain {id} (or another field of the task) where the task goes"),
        ("https://groupchat.ai/tasks/{id", "has a \"{\" without its \"}\""),
        ("https://groupchat.ai/tasks/{task.id}", "{task.id} is not a field name (letters and digits, such as {id} or {projectId})"),
    ])
    func refusesWhatIsNotATemplate(_ text: String, _ message: String) {
        guard case .failure(let e) = TaskLinkTemplate.parse(text) else {
            Issue.record("\(text) was accepted")
            return
        }
        #expect(e.message == message)
    }
}

@Suite struct SignInThrottleTests {
    @Test func anIPv6ClientIsItsSlash64() {
        var throttle = SignInThrottle(burst: 2, perMinute: 1)
        throttle.recordFailure(client: "2001:db8:1:2::1", now: 0)
        throttle.recordFailure(client: "2001:db8:1:2::ffff", now: 0)
        #expect(throttle.retryAfter(client: "2001:db8:1:2:abcd::9", now: 0) != nil, "another address in the same /64")
        #expect(throttle.retryAfter(client: "2001:db8:1:3::1", now: 0) == nil, "the next /64 is someone else")
    }

    @Test func aFloodOfAddressesCannotEvictAHeldBackGuesser() {
        var throttle = SignInThrottle(burst: 1, perMinute: 1, maxClients: 50)
        throttle.recordFailure(client: "203.0.113.9", now: 0)
        #expect(throttle.retryAfter(client: "203.0.113.9", now: 0) != nil)
        for i in 0..<500 { throttle.recordFailure(client: "198.51.\(i / 256).\(i % 256)", now: 1) }
        #expect(throttle.trackedClients == 50)
        #expect(throttle.retryAfter(client: "203.0.113.9", now: 1) != nil, "still held back")
        #expect(throttle.retryAfter(client: "192.0.2.200", now: 1) != nil, "a full table of held-back clients holds newcomers too")
        #expect(throttle.retryAfter(client: "192.0.2.200", now: 120) == nil, "until they refill")
        throttle.recordFailure(client: "192.0.2.200", now: 120)
        #expect(throttle.trackedClients == 1, "refilled buckets are dropped to make room")
    }
}
