import Testing
import TaskBridgeCore
import TaskBridgeStore
import TaskBridgeTestSupport

@Suite struct WidgetIngressTests {
    let origin = ("Origin", "https://www.example.com")

    func submit(_ bridge: Bridge, _ body: String, contentType: String = "application/json",
                extra: [(String, String)] = []) async throws -> TestResponseBox {
        TestResponseBox(try await bridge.post("/hooks/widget", [("Content-Type", contentType), origin] + extra, Array(body.utf8)))
    }

    @Test func preflightAnswersOnlyAllowedOrigins() async throws {
        try await withBridge { bridge async throws in
            let ok = try await bridge.client.execute(uri: "/hooks/widget", method: .options,
                                                     headers: [.origin: "https://www.example.com", .accessControlRequestMethod: "POST"])
            #expect(ok.status.code == 204)
            #expect(ok.headers[.accessControlAllowOrigin] == "https://www.example.com")
            #expect(ok.headers[.accessControlAllowMethods] == "POST, OPTIONS")
            #expect(ok.headers[.accessControlAllowHeaders] == "Content-Type, Idempotency-Key")
            #expect(ok.headers[.vary] == "Origin")
            let evil = try await bridge.client.execute(uri: "/hooks/widget", method: .options, headers: [.origin: "https://evil.example"])
            #expect(evil.status.code == 403)
            #expect(evil.headers[.accessControlAllowOrigin] == nil)
            let github = try await bridge.client.execute(uri: "/hooks/github", method: .options, headers: [.origin: "https://www.example.com"])
            #expect(github.status.code == 405)
        }
    }

    @Test func acceptsJSONFormAndTextBodiesWithCORSHeaders() async throws {
        try await withBridge { bridge async throws in
            let json = try await submit(bridge, #"{"message": "The checkout button is broken", "email": "ada@example.com", "page": "https://www.example.com/cart"}"#)
            #expect(json.status == 202)
            #expect(json.response.headers[.accessControlAllowOrigin] == "https://www.example.com")
            let form = try await submit(bridge, "message=Love+it&name=Grace", contentType: "application/x-www-form-urlencoded")
            #expect(form.status == 202)
            let text = try await submit(bridge, #"{"message":"sent with sendBeacon"}"#, contentType: "text/plain;charset=UTF-8")
            #expect(text.status == 202)
            let events = try await bridge.store.listEvents(EventFilter(source: "widget"))
            #expect(events.count == 3)
            #expect(events.allSatisfy { $0.type == "widget.submitted" && $0.jobs == 1 })
        }
    }

    @Test func refusesOtherOrigins() async throws {
        try await withBridge { bridge async throws in
            let r = try await bridge.post("/hooks/widget", [("Content-Type", "application/json"), ("Origin", "https://evil.example")],
                                          Array(#"{"message":"x"}"#.utf8))
            #expect(r.status.code == 403)
            #expect(r.json["error"] == "origin \"https://evil.example\" is not allowed")
        }
    }

    @Test(arguments: [
        (#"{"email":"a@b.co"}"#, #"field "message" is required and must not be empty"#),
        (#"{"message":"   "}"#, #"field "message" is required and must not be empty"#),
        (#"{"message":"hi","phone":"123"}"#, #"unknown field "phone"; accepted fields: message, name, email, page"#),
        (#"{"message":"hi","nmae":"x"}"#, #"unknown field "nmae" (did you mean "name"?); accepted fields: message, name, email, page"#),
        (#"{"message":"hi","email":"not-an-email"}"#, #"field "email" is not an email address"#),
        (#"{"message":"hi","page":"javascript:alert(1)"}"#, #"field "page" must be an http(s) URL"#),
        (#"{"message":42}"#, #"field "message" must be a string, found number"#),
        (#"["message"]"#, #"body must be a JSON object with at least a "message" field"#),
        (#"{"message": "x""#, "body is not valid JSON: malformed JSON at byte 15: unexpected end of input in an object"),
    ])
    func refusesBadSubmissions(body: String, error: String) async throws {
        try await withBridge { bridge async throws in
            let r = try await submit(bridge, body)
            #expect(r.status == 400)
            #expect(r.response.json["error"]?.stringValue == error)
            #expect(try await bridge.store.listEvents(EventFilter()).isEmpty)
        }
    }

    @Test func limitsEachFieldsLength() async throws {
        try await withBridge(config: testConfig(widget: #", "fieldLimits": {"message": 20}"#)) { bridge async throws in
            let r = try await submit(bridge, #"{"message":"this message is far too long"}"#)
            #expect(r.status == 400)
            #expect(r.response.json["error"] == "field \"message\" is 28 characters long; the limit is 20")
        }
    }

    @Test func limitsCountUnicodeScalarsAndInvisibleCharactersAreRefused() async throws {
        try await withBridge { bridge async throws in
            let zalgo = "a" + String(repeating: "\u{0301}", count: 30_000)
            let long = try await submit(bridge, #"{"message":"\#(zalgo)"}"#)
            #expect(long.status == 400)
            #expect(long.response.json["error"] == "field \"message\" is 30001 characters long; the limit is 5000")
            let bidi = try await submit(bridge, #"{"message":"invoice \u202Efdp.exe"}"#)
            #expect(bidi.status == 400)
            #expect(bidi.response.json["error"] == "field \"message\" contains a bidirectional override or isolate (U+202E) at character 9")
            let form = try await submit(bridge, "message=hi&name=Ada%E2%80%A8Lovelace", contentType: "application/x-www-form-urlencoded")
            #expect(form.status == 400)
            #expect(form.response.json["error"] == "field \"name\" contains a line separator (U+2028) at character 4")
            let utf8 = try await submit(bridge, "message=caf%E9", contentType: "application/x-www-form-urlencoded")
            #expect(utf8.status == 400)
            #expect(utf8.response.json["error"]?.stringValue?.hasPrefix("invalid UTF-8 in form body at byte 11") == true)
            #expect(try await bridge.store.listEvents(EventFilter()).isEmpty)
        }
    }

    @Test func aFilledHoneypotLooksAcceptedButStoresNothing() async throws {
        try await withBridge { bridge async throws in
            let r = try await submit(bridge, #"{"message":"cheap pills","website":"http://spam.example"}"#)
            #expect(r.status == 202)
            #expect(r.response.json["event"]?.stringValue?.hasPrefix("evt_") == true)
            #expect(try await bridge.store.listEvents(EventFilter()).isEmpty)
        }
    }

    @Test func idempotencyKeyDedupesRetriedSubmissions() async throws {
        try await withBridge { bridge async throws in
            let a = try await submit(bridge, #"{"message":"hello"}"#, extra: [("Idempotency-Key", "submit-77")])
            let b = try await submit(bridge, #"{"message":"hello"}"#, extra: [("Idempotency-Key", "submit-77")])
            #expect(a.status == 202)
            #expect(b.status == 200)
            #expect(b.response.json["event"] == a.response.json["event"])
            let bad = try await submit(bridge, #"{"message":"hello"}"#, extra: [("Idempotency-Key", String(repeating: "k", count: 300))])
            #expect(bad.status == 400)
        }
    }

    @Test func rateLimitsPerClientWithRetryAfter() async throws {
        let widget = #", "rateLimit": {"perClient": {"burst": 3, "perMinute": 1}}"#
        try await withBridge(config: testConfig(widget: widget)) { bridge async throws in
            for _ in 0..<3 { #expect(try await submit(bridge, #"{"message":"hi"}"#).status == 202) }
            let limited = try await submit(bridge, #"{"message":"hi"}"#)
            #expect(limited.status == 429)
            // One token a minute: the next one is at most 60 s away (a little less if
            // the first requests took a while).
            let retryAfter = try #require(limited.response.headers[.retryAfter].flatMap { Int($0) })
            #expect((50...60).contains(retryAfter))
            #expect(limited.response.json["error"] == "too many requests; retry later")
            #expect(limited.response.headers[.accessControlAllowOrigin] == "https://www.example.com", "browsers must be able to read the 429")
        }
    }

    /// One client over its own limit spends none of the source's tokens, so the others
    /// still get through.
    @Test func aClientOverItsLimitDoesNotSpendTheSourceBucket() async throws {
        let widget = #", "rateLimit": {"perClient": {"burst": 1, "perMinute": 1}, "perSource": {"burst": 3, "perSecond": 0.01}}"#
        let server = #"{"trustedProxies": ["127.0.0.1/32"]}"#
        try await withBridge(config: testConfig(server: server, widget: widget)) { bridge async throws in
            func send(_ ip: String) async throws -> Int {
                try await submit(bridge, #"{"message":"hi"}"#, extra: [("X-Forwarded-For", ip)]).status
            }
            #expect(try await send("198.51.100.1") == 202)
            for _ in 0..<10 { #expect(try await send("198.51.100.1") == 429) }
            #expect(try await send("198.51.100.2") == 202)
            #expect(try await send("198.51.100.3") == 202)
            // Now the source's three tokens are gone, for everyone.
            #expect(try await send("198.51.100.4") == 429)
        }
    }

    /// IPv6 clients share a bucket per /64; an IPv4-mapped address is its IPv4 address.
    @Test func ipv6ClientsAreLimitedPer64() async throws {
        let widget = #", "rateLimit": {"perClient": {"burst": 1, "perMinute": 1}}"#
        let server = #"{"trustedProxies": ["127.0.0.1/32"]}"#
        try await withBridge(config: testConfig(server: server, widget: widget)) { bridge async throws in
            func send(_ ip: String) async throws -> Int {
                try await submit(bridge, #"{"message":"hi"}"#, extra: [("X-Forwarded-For", ip)]).status
            }
            #expect(try await send("2001:db8:1:2::1") == 202)
            #expect(try await send("2001:db8:1:2:ffff:ffff:ffff:ffff") == 429, "same /64")
            #expect(try await send("2001:db8:1:3::1") == 202, "another /64")
            #expect(try await send("198.51.100.9") == 202)
            #expect(try await send("::ffff:198.51.100.9") == 429, "the same IPv4 client")
        }
    }

    @Test func rateLimitsPerSource() async throws {
        let widget = #", "rateLimit": {"perSource": {"burst": 2, "perSecond": 0.01}}"#
        let server = #"{"trustedProxies": ["127.0.0.1/32"]}"#
        try await withBridge(config: testConfig(server: server, widget: widget)) { bridge async throws in
            #expect(try await submit(bridge, #"{"message":"a"}"#, extra: [("X-Forwarded-For", "198.51.100.1")]).status == 202)
            #expect(try await submit(bridge, #"{"message":"b"}"#, extra: [("X-Forwarded-For", "198.51.100.2")]).status == 202)
            #expect(try await submit(bridge, #"{"message":"c"}"#, extra: [("X-Forwarded-For", "198.51.100.3")]).status == 429)
        }
    }
}

/// Keeps the response and its status code as an Int for terse assertions.
struct TestResponseBox {
    let response: TestResponse
    init(_ r: TestResponse) { response = r }
    var status: Int { Int(response.status.code) }
}

import HummingbirdTesting
