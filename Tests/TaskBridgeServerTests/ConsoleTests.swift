import Foundation
import HummingbirdTesting
import UpstreamFakes
import Testing
import TaskBridgeCore
import TaskBridgeServer
import TaskBridgeStore
import TaskBridgeTestSupport

/// The console's sign-in, session cookie, CSRF checks and pages, over a real listener.
/// What the pages do in a browser is tested by Tests/Browser (Chromium).
@Suite struct ConsoleTests {
    static let form = [("Content-Type", "application/x-www-form-urlencoded")]
    static let proxied = testConfig(server: #"{"trustedProxies": ["127.0.0.1/32"]}"#)

    func signIn(_ bridge: Bridge, token: String = TestEnv.adminToken, from client: String = "192.0.2.10",
                extra: [(String, String)] = []) async throws -> TestResponse {
        try await bridge.post("/admin/login", Self.form + [("X-Forwarded-For", client)] + extra,
                              Array("token=\(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")".utf8))
    }

    /// `tb_session=…` from a sign-in answer's Set-Cookie.
    func cookie(_ r: TestResponse) throws -> String {
        let header = try #require(r.headers[.setCookie])
        return try #require(header.split(separator: ";").first.map(String.init))
    }

    func csrf(_ bridge: Bridge, _ cookie: String) async throws -> String {
        try #require(try await bridge.get("/admin/api/session", [("Cookie", cookie)]).json["csrfToken"]?.stringValue)
    }

    @Test func signingInSetsAStrictHttpOnlyCookieScopedToTheConsole() async throws {
        try await withBridge(config: Self.proxied) { bridge async throws in
            let page = try await bridge.get("/admin/")
            #expect(page.status.code == 303)
            #expect(page.headers[.location] == "/admin/login")
            #expect(try await bridge.get("/admin").headers[.location] == "/admin/", "relative links need the slash")
            let login = try await bridge.get("/admin/login")
            #expect(login.status.code == 200)
            #expect(login.text.contains(#"<form id="login-form""#))
            #expect(!login.text.contains("<!--error-->") || !login.text.contains("login-error"))

            let r = try await signIn(bridge)
            #expect(r.status.code == 303)
            #expect(r.headers[.location] == "/admin/")
            let setCookie = try #require(r.headers[.setCookie])
            #expect(setCookie.hasPrefix("tb_session=v1."))
            #expect(setCookie.contains("; Path=/admin;"))
            #expect(setCookie.contains("; HttpOnly"))
            #expect(setCookie.contains("; SameSite=Strict"))
            #expect(setCookie.contains("; Max-Age=28800"))
            #expect(!setCookie.contains("Secure"), "plain http: a Secure cookie would never come back")
            #expect(!setCookie.contains(TestEnv.adminToken))

            let c = try cookie(r)
            let shell = try await bridge.get("/admin/", [("Cookie", c)])
            #expect(shell.status.code == 200)
            #expect(shell.headers[.contentType] == "text/html; charset=utf-8")
            #expect(shell.text.contains(#"<table id="events-table""#) || shell.text.contains(#"id="main""#))
            #expect(!shell.text.contains(TestEnv.adminToken), "the token is never in a page")
            #expect(try await bridge.get("/admin/login", [("Cookie", c)]).headers[.location] == "/admin/", "already signed in")
            #expect(try await bridge.get("/admin/api/events", [("Cookie", c)]).status.code == 200)
            #expect(try await bridge.get("/admin/api/events", [("Cookie", c + "0")]).status.code == 401, "a changed cookie is refused")

            let secure = try await signIn(bridge, extra: [("X-Forwarded-Proto", "https")])
            #expect(secure.headers[.setCookie]?.hasSuffix("; Secure") == true, "https at a trusted proxy")
        }
    }

    @Test func everyPageCarriesAStrictContentSecurityPolicy() async throws {
        try await withBridge { bridge async throws in
            for path in ["/admin/login", "/admin/"] {
                let r = try await bridge.get(path)
                let csp = try #require(r.headers[.contentSecurityPolicy], "\(path)")
                #expect(csp.contains("default-src 'none'"))
                #expect(csp.contains("script-src 'self'"))
                #expect(!csp.contains("unsafe-inline"))
                #expect(csp.contains("frame-ancestors 'none'"))
                #expect(r.headers[.xContentTypeOptions] == "nosniff")
                #expect(r.headers[.cacheControl] == "no-store")
            }
            // Pages may not carry inline scripts, styles or handlers: the CSP would block them.
            for page in [try await bridge.get("/admin/login").text] {
                #expect(!page.contains("<script>"))
                #expect(!page.contains("style=\""))
                #expect(page.range(of: #"\son[a-z]+="#, options: .regularExpression) == nil)
            }
        }
    }

    @Test func aWrongTokenShowsTheFormAgainAndIsThrottledPerClient() async throws {
        try await withBridge(config: Self.proxied) { bridge async throws in
            let wrong = try await signIn(bridge, token: "admin-test-tokeN")
            #expect(wrong.status.code == 401)
            #expect(wrong.headers[.setCookie] == nil)
            #expect(wrong.text.contains(#"<p id="login-error" class="error" role="alert">That is not the admin token.</p>"#))
            #expect(wrong.text.contains(#"<form id="login-form""#))
            #expect(!wrong.text.contains("admin-test-tokeN"), "what was typed is not echoed")
            for _ in 0..<4 { _ = try await signIn(bridge, token: "guess") }
            let throttled = try await signIn(bridge)
            #expect(throttled.status.code == 429, "even the right token waits once the address has failed too often")
            #expect(throttled.text.contains("Too many wrong tokens from this address; try again in"))
            #expect(Int(throttled.headers[.retryAfter] ?? "").map { $0 >= 1 && $0 <= 12 } == true)
            #expect(try await signIn(bridge, from: "192.0.2.99").status.code == 303, "another address is not held back")
            // Wrong bearer tokens count against the same address.
            let api = try await bridge.get("/admin/api/events", [("Authorization", "Bearer x"), ("X-Forwarded-For", "192.0.2.10")])
            #expect(api.status.code == 429)
        }
    }

    @Test func consoleRequestsThatChangeSomethingNeedTheSessionsCSRFToken() async throws {
        try await withBridge(config: Self.proxied) { bridge async throws in
            let c = try cookie(try await signIn(bridge))
            let token = try await csrf(bridge, c)
            let session = try await bridge.get("/admin/api/session", [("Cookie", c)])
            #expect(session.headers[.cacheControl] == "no-store")
            #expect(ISO8601.parseMillis(session.json["expiresAt"]?.stringValue ?? "") != nil)

            let none = try await bridge.post("/admin/api/dead-letters/retry", [("Cookie", c)], [])
            #expect(none.status.code == 403)
            #expect(none.json["error"] == "missing or wrong CSRF token: console requests that change something must send X-CSRF-Token")
            #expect(try await bridge.post("/admin/api/dead-letters/retry", [("Cookie", c), ("X-CSRF-Token", String(token.reversed()))], []).status.code == 403)
            let other = try await csrf(bridge, try cookie(try await signIn(bridge)))
            #expect(try await bridge.post("/admin/api/dead-letters/retry", [("Cookie", c), ("X-CSRF-Token", other)], []).status.code == 403,
                    "another session's token")
            let ok = try await bridge.post("/admin/api/dead-letters/retry", [("Cookie", c), ("X-CSRF-Token", token)], [])
            #expect(ok.status.code == 200)
            #expect(ok.json["retried"] == 0)
            let crossSite = try await bridge.post("/admin/api/dead-letters/retry",
                                                  [("Cookie", c), ("X-CSRF-Token", token), ("Sec-Fetch-Site", "cross-site")], [])
            #expect(crossSite.status.code == 403)
            // The CLI's bearer token needs no CSRF token: it is not sent by browsers on their own.
            #expect(try await bridge.post("/admin/api/dead-letters/retry", [("Authorization", "Bearer \(TestEnv.adminToken)")], []).status.code == 200)
            #expect(try await bridge.get("/admin/api/session", [("Authorization", "Bearer \(TestEnv.adminToken)")]).status.code == 400)
            // A sign-in form posted from another site is refused.
            let forged = try await signIn(bridge, from: "192.0.2.50", extra: [("Sec-Fetch-Site", "cross-site")])
            #expect(forged.status.code == 403)
            #expect(forged.headers[.setCookie] == nil)
        }
    }

    @Test func signingOutEndsTheSession() async throws {
        try await withBridge(config: Self.proxied) { bridge async throws in
            let c = try cookie(try await signIn(bridge))
            let token = try await csrf(bridge, c)
            let refused = try await bridge.post("/admin/logout", Self.form + [("Cookie", c)], Array("csrf=wrong".utf8))
            #expect(refused.status.code == 403)
            #expect(try await bridge.get("/admin/api/events", [("Cookie", c)]).status.code == 200, "still signed in")
            let out = try await bridge.post("/admin/logout", Self.form + [("Cookie", c)], Array("csrf=\(token)".utf8))
            #expect(out.status.code == 303)
            #expect(out.headers[.location] == "/admin/login")
            #expect(out.headers[.setCookie]?.hasPrefix("tb_session=; Path=/admin; Max-Age=0;") == true)
            #expect(try await bridge.get("/admin/api/events", [("Cookie", c)]).status.code == 401, "the old cookie is dead")
            #expect(try await bridge.get("/admin/", [("Cookie", c)]).headers[.location] == "/admin/login")
        }
    }

    @Test func withoutAnAdminTokenTheConsoleIsOff() async throws {
        var env = TestEnv.values
        env["TEST_ADMIN_TOKEN"] = nil
        try await withBridge(env: env) { bridge async throws in
            let page = try await bridge.get("/admin/")
            #expect(page.status.code == 404)
            #expect(page.text.contains("The console is off"))
            #expect(try await signIn(bridge, token: "").status.code == 404)
            #expect(try await bridge.get("/admin/api/session").status.code == 404)
        }
    }

    @Test func assetsAndTheWidgetAreCachedByETag() async throws {
        try await withBridge(config: testConfig(server: #"{"pathPrefix": "/tb"}"#)) { bridge async throws in
            let js = try await bridge.get("/tb/admin/assets/console.js")
            #expect(js.status.code == 200)
            #expect(js.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(js.headers[.cacheControl] == "no-cache")
            let tag = try #require(js.headers[.eTag])
            #expect(try await bridge.get("/tb/admin/assets/console.js", [("If-None-Match", tag)]).status.code == 304)
            #expect(try await bridge.get("/tb/admin/assets/console.css").headers[.contentType] == "text/css; charset=utf-8")
            #expect(try await bridge.get("/tb/admin/assets/secrets.json").status.code == 404)
            #expect(try await bridge.get("/tb/admin/assets/..%2Fconsole.js").status.code == 404)

            let widget = try await bridge.get("/tb/widget.js")
            #expect(widget.status.code == 200)
            #expect(widget.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(widget.headers[.cacheControl] == "public, max-age=86400, stale-while-revalidate=604800")
            let widgetTag = try #require(widget.headers[.eTag])
            #expect(widgetTag != tag)
            let again = try await bridge.get("/tb/widget.js", [("If-None-Match", "\"other\", \(widgetTag)")])
            #expect(again.status.code == 304)
            #expect(again.body.readableBytes == 0)
            #expect(widget.text.contains("TaskBridgeWidget"))
            let readme = String(decoding: Fixtures.repositoryFile("README.md"), as: UTF8.self)
            let stated = readme.firstMatch(of: /\* Size: ([0-9,]+) bytes/).map { Int($0.1.replacing(",", with: "")) }
            #expect(stated == widget.body.readableBytes, "README.md states the widget's size; keep it true")
        }
        let noWidget = #"""
            {"sources": {"github": {"kind": "github", "secrets": [{"env": "TEST_GH_SECRET"}]}}, "targets": {}, "rules": []}
            """#
        try await withBridge(config: noWidget) { bridge async throws in
            let r = try await bridge.get("/widget.js")
            #expect(r.status.code == 404)
            #expect(r.json["error"] == "no widget source is configured, so there is no widget.js")
        }
    }

    @Test func theHookAnswerLetsTheWidgetReadRetryAfter() async throws {
        try await withBridge(config: testConfig(widget: #", "rateLimit": {"perClient": {"burst": 1, "perMinute": 1}}"#)) { bridge async throws in
            let headers = [("Content-Type", "application/json"), ("Origin", "https://www.example.com")]
            let first = try await bridge.post("/hooks/widget", headers, Array(#"{"message":"one"}"#.utf8))
            #expect(first.status.code == 202)
            #expect(first.headers[.accessControlExposeHeaders] == "Retry-After")
            let limited = try await bridge.post("/hooks/widget", headers, Array(#"{"message":"two"}"#.utf8))
            #expect(limited.status.code == 429)
            #expect(limited.headers[.accessControlAllowOrigin] == "https://www.example.com")
            #expect(limited.headers[.accessControlExposeHeaders] == "Retry-After")
            #expect(limited.headers[.retryAfter] != nil)
        }
    }
}

extension ConsoleTests {
    /// The event page links each job's task through the target's `taskLink`.
    @Test func jobsLinkTheirTasksThroughTheTargetsTaskLink() async throws {
        let fake = GroupChatFake()
        let config = testConfig(target: #", "taskLink": "https://groupchat.example/workspace/ws_1/tasks/{id}""#)
        try await withBridge(config: config, fake: fake, dispatcher: true) { bridge async throws in
            let auth = [("Authorization", "Bearer \(TestEnv.adminToken)")]
            let created = try await bridge.sentry(Fixtures.bytes("sentry/issue.created.json"), resource: "issue", requestID: "link-1")
            let id = try #require(created.json["event"]?.stringValue)
            #expect(try await eventually { try await bridge.store.listJobs(JobFilter(state: "succeeded")).count == 1 })
            let task = try #require(fake.tasks.first?["id"]?.stringValue)
            let detail = try await bridge.get("/admin/api/events/\(id)", auth)
            #expect(detail.json["delivery"] == "delivered")
            let job = try #require(detail.json["jobs"]?.arrayValue?.first)
            #expect(job["links"] == [["title": .string("task \(task)"), "url": .string("https://groupchat.example/workspace/ws_1/tasks/\(task)")]])
            #expect(job["ruleVersion"]?.stringValue?.count == 24)
            let listed = try await bridge.get("/admin/api/jobs", auth)
            #expect(listed.json["jobs"]?.arrayValue?.first?["links"] == job["links"])
        }
    }
}
