import Testing
@testable import TaskBridgeCore

@Suite("Provider adapters and IngestPlanner")
struct AdapterTests {
    static let githubSecret = Secret("It's a Secret to Everybody")
    static let sentrySecret = Secret("sentry-client-secret")
    static let delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    static let requestID = "a8e5d37a-696c-4c54-adb5-b3f28d64c7de-req"

    static func planner(_ source: String, secrets: [Secret]) throws -> IngestPlanner {
        IngestPlanner(source: try #require(try Fixtures.shippedConfig().sources[source]), secrets: secrets)
    }

    static func request(_ headers: [(String, String)], _ body: [UInt8]) -> IngestPlanner.Request {
        IngestPlanner.Request(headers: HeaderFields(headers), body: body, clientIP: "140.82.115.1", receivedAtMillis: 1_700_000_000_000)
    }

    static func githubHeaders(event: String = "pull_request", body: [UInt8], contentType: String = "application/json",
                              secret: Secret = githubSecret) -> [(String, String)] {
        [("Content-Type", contentType), ("X-GitHub-Event", event), ("X-GitHub-Delivery", delivery),
         ("X-GitHub-Hook-ID", "292430182"), ("User-Agent", "GitHub-Hookshot/044aadd"),
         ("X-Hub-Signature-256", "sha256=" + HMACSignature.sign(body, secret: secret))]
    }

    static func sentryHeaders(resource: String, body: [UInt8], signedBytes: [UInt8]? = nil) -> [(String, String)] {
        [("Content-Type", "application/json"), ("Request-ID", requestID), ("Sentry-Hook-Resource", resource),
         ("Sentry-Hook-Timestamp", "1566248777"),
         ("Sentry-Hook-Signature", HMACSignature.sign(signedBytes ?? body, secret: sentrySecret))]
    }

    static func plan(_ planner: IngestPlanner, _ request: IngestPlanner.Request, rules: RuleSet? = nil) throws -> PlannedEvent {
        try planner.plan(request, rules: rules ?? Fixtures.exampleRules(), eventId: "evt_1")
    }

    static func failure(_ planner: IngestPlanner, _ request: IngestPlanner.Request, rules: RuleSet = .empty) -> IngressError? {
        do throws(IngressError) {
            _ = try planner.plan(request, rules: rules, eventId: "evt_1")
            return nil
        } catch {
            return error
        }
    }

    static func versionHash(_ id: String) throws -> String {
        try #require(try Fixtures.exampleRules().rule(id: id)).versionHash
    }

    // MARK: GitHub

    @Test func githubJSONBody() throws {
        let body = Fixtures.bytes("github/pull_request.opened")
        let p = try Self.planner("github", secrets: [Self.githubSecret])
        let event = try Self.plan(p, Self.request(Self.githubHeaders(body: body), body))
        #expect(event.id == "evt_1")
        #expect(event.source == "github")
        #expect(event.type == "pull_request.opened")
        #expect(event.dedupeKey == Self.delivery)
        #expect(event.status == .unmatched)
        #expect(event.jobs == [])
        #expect(!event.discard)
        #expect(event.body == body)
        #expect(event.contentType == "application/json")
        #expect(event.clientIP == "140.82.115.1")
        #expect(event.receivedAtMillis == 1_700_000_000_000)
        // Signatures are never kept with the event.
        #expect(event.headers == ["content-type": "application/json", "x-github-event": "pull_request",
                                  "x-github-delivery": Self.delivery, "x-github-hook-id": "292430182",
                                  "user-agent": "GitHub-Hookshot/044aadd"])
    }

    @Test func githubEventThatMatchesARule() throws {
        let body = try DerivedVariant.prOpenedWithTaskBranch.bytes()
        let p = try Self.planner("github", secrets: [Self.githubSecret])
        let event = try Self.plan(p, Self.request(Self.githubHeaders(body: body), body))
        #expect(event.status == .planned)
        #expect(event.jobs == [PlannedJob(ruleId: "pr-ready-in-review", ruleVersion: try Self.versionHash("pr-ready-in-review"),
                                          target: "groupchat", orderingKey: "github-pr:Codertocat/Hello-World#2", captures: ["task": "task_7"])])
    }

    @Test func githubFormEncodedBodySignedOverTheRawForm() throws {
        let json = String(decoding: try DerivedVariant.prMerged.bytes(), as: UTF8.self)
        let form = Array(FormURLEncoding.encode([("payload", json)]).utf8)
        let p = try Self.planner("github", secrets: [Self.githubSecret])
        let headers = Self.githubHeaders(body: form, contentType: "application/x-www-form-urlencoded")
        let event = try Self.plan(p, Self.request(headers, form))
        #expect(event.type == "pull_request.closed")
        #expect(event.body == form)
        #expect(event.contentType == "application/x-www-form-urlencoded")
        #expect(event.jobs.map(\.ruleId) == ["pr-merged-done"])
        #expect(event.jobs.first?.captures == ["task": "task_7"])

        // A signature over the embedded JSON instead of the bytes received does not verify.
        var wrong = headers.filter { $0.0 != "X-Hub-Signature-256" }
        wrong.append(("X-Hub-Signature-256", "sha256=" + HMACSignature.sign(Array(json.utf8), secret: Self.githubSecret)))
        #expect(Self.failure(p, Self.request(wrong, form))
            == .unauthorized("X-Hub-Signature-256 does not match the body for any configured secret"))
    }

    @Test func githubPingIsStoredButProducesNoWork() throws {
        let body = Fixtures.bytes("github/ping")
        let p = try Self.planner("github", secrets: [Self.githubSecret])
        let event = try Self.plan(p, Self.request(Self.githubHeaders(event: "ping", body: body), body))
        #expect(event.type == "ping")
        #expect(event.status == .ignored)
        #expect(event.jobs == [])
        #expect(!event.discard)
    }

    @Test(arguments: [("push", "github/push", "push"), ("issues", "github/issues.opened", "issues.opened"),
                      ("installation", "github/installation.created", "installation.created")])
    func githubTypeIsEventPlusAction(event: String, fixture: String, type: String) throws {
        let body = Fixtures.bytes(fixture)
        let p = try Self.planner("github", secrets: [Self.githubSecret])
        let planned = try Self.plan(p, Self.request(Self.githubHeaders(event: event, body: body), body))
        #expect(planned.type == type)
        #expect(planned.status == .unmatched)
    }

    @Test func githubActionIsReadEvenWhenNoRuleReadsIt() throws {
        let body = Fixtures.bytes("github/pull_request.opened")
        let p = try Self.planner("github", secrets: [Self.githubSecret])
        #expect(try Self.plan(p, Self.request(Self.githubHeaders(body: body), body), rules: .empty).type == "pull_request.opened")
        #expect(try Self.plan(p, Self.request(Self.githubHeaders(body: body), body), rules: RuleSet(rules: [])).type == "pull_request.opened")
    }

    @Test func githubSecretRotation() throws {
        let body = Fixtures.bytes("github/pull_request.opened")
        let p = try Self.planner("github", secrets: [Secret("old"), Self.githubSecret])
        #expect(try Self.plan(p, Self.request(Self.githubHeaders(body: body), body)).type == "pull_request.opened")
        let q = try Self.planner("github", secrets: [Secret("old")])
        #expect(Self.failure(q, Self.request(Self.githubHeaders(body: body), body))
            == .unauthorized("X-Hub-Signature-256 does not match the body for any configured secret"))
    }

    static func withHeader(_ headers: [(String, String)], _ name: String, _ value: String?) -> [(String, String)] {
        var out = headers.filter { $0.0.lowercased() != name.lowercased() }
        if let value { out.append((name, value)) }
        return out
    }

    @Test(arguments: [
        ("X-Hub-Signature-256", String?.none, IngressError.unauthorized("missing X-Hub-Signature-256 header")),
        ("X-Hub-Signature-256", "sha1=0123", .unauthorized(#"malformed X-Hub-Signature-256 header; expected "sha256=" and 64 hex digits"#)),
        ("X-Hub-Signature-256", "sha256=" + String(repeating: "0", count: 64), .unauthorized("X-Hub-Signature-256 does not match the body for any configured secret")),
        ("X-GitHub-Event", nil, .badRequest("missing X-GitHub-Event header")),
        ("X-GitHub-Event", "  ", .badRequest("missing X-GitHub-Event header")),
        ("X-GitHub-Delivery", nil, .badRequest("missing X-GitHub-Delivery header")),
        ("X-GitHub-Delivery", String(repeating: "d", count: 201), .badRequest("X-GitHub-Delivery header is longer than 200 bytes")),
    ])
    func githubHeaderProblems(header: String, value: String?, expected: IngressError) throws {
        let body = Fixtures.bytes("github/pull_request.opened")
        let p = try Self.planner("github", secrets: [Self.githubSecret])
        let error = Self.failure(p, Self.request(Self.withHeader(Self.githubHeaders(body: body), header, value), body))
        #expect(error == expected)
        // No answer ever reveals the expected signature.
        #expect(error?.message.contains(HMACSignature.sign(body, secret: Self.githubSecret)) == false)
    }

    @Test(arguments: [
        (#"{"action": "#, IngressError.badRequest("body is not valid JSON: malformed JSON at byte 11: unexpected end of input, expected a value"), "application/json"),
        ("[1, 2]", .badRequest("body must be a JSON object, found array"), "application/json"),
        (#""text""#, .badRequest("body must be a JSON object, found string"), "application/json"),
        ("foo=bar", .badRequest(#"form body has no "payload" field"#), "application/x-www-form-urlencoded"),
        ("payload=%ZZ", .badRequest("form body is not valid application/x-www-form-urlencoded: bad percent-escape at byte 8"), "application/x-www-form-urlencoded"),
        ("payload=%7B", .badRequest("body is not valid JSON: malformed JSON at byte 1: unexpected end of input in an object"), "application/x-www-form-urlencoded"),
    ])
    func githubBodyProblems(body: String, expected: IngressError, contentType: String) throws {
        let bytes = Array(body.utf8)
        let p = try Self.planner("github", secrets: [Self.githubSecret])
        #expect(Self.failure(p, Self.request(Self.githubHeaders(body: bytes, contentType: contentType), bytes)) == expected)
    }

    @Test(arguments: [
        ("application/json", IngressError?.none),
        ("application/json; charset=utf-8", nil),
        ("Application/JSON", nil),
        ("application/x-www-form-urlencoded", nil),
        ("text/plain", .unsupportedMediaType(#"unsupported Content-Type "text/plain"; send application/json or application/x-www-form-urlencoded"#)),
        ("", .unsupportedMediaType("missing Content-Type header; send application/json or application/x-www-form-urlencoded")),
    ])
    func githubContentTypes(contentType: String, expected: IngressError?) throws {
        let p = try Self.planner("github", secrets: [Self.githubSecret])
        #expect(p.precheck(HeaderFields([("Content-Type", contentType)])) == expected)
    }

    @Test func missingContentTypeHeader() throws {
        let p = try Self.planner("sentry", secrets: [Self.sentrySecret])
        #expect(p.precheck(HeaderFields()) == .unsupportedMediaType("missing Content-Type header; send application/json"))
    }

    @Test func signedSourceWithoutSecretsIsUnavailable() throws {
        let expected = IngressError(status: 503, message: #"source "github" has no secret configured; the operator must set it"#, retryAfter: 60)
        #expect(try Self.planner("github", secrets: []).precheck(HeaderFields([("Content-Type", "application/json")])) == expected)
        #expect(try Self.planner("sentry", secrets: []).precheck(HeaderFields([("Content-Type", "application/json")]))
            == IngressError(status: 503, message: #"source "sentry" has no secret configured; the operator must set it"#, retryAfter: 60))
        #expect(try Self.planner("widget", secrets: []).precheck(HeaderFields([("Content-Type", "application/json")])) == nil)
    }

    // MARK: Sentry

    @Test func sentryIssueCreated() throws {
        let body = Fixtures.bytes("sentry/issue.created")
        let p = try Self.planner("sentry", secrets: [Self.sentrySecret])
        let event = try Self.plan(p, Self.request(Self.sentryHeaders(resource: "issue", body: body), body))
        #expect(event.type == "issue.created")
        #expect(event.dedupeKey == Self.requestID)
        #expect(event.status == .planned)
        #expect(event.jobs == [PlannedJob(ruleId: "sentry-issue-task", ruleVersion: try Self.versionHash("sentry-issue-task"),
                                          target: "groupchat", orderingKey: "sentry-issue:1170820242", captures: [:])])
        #expect(event.headers == ["content-type": "application/json", "request-id": Self.requestID,
                                  "sentry-hook-resource": "issue", "sentry-hook-timestamp": "1566248777"])
    }

    @Test(arguments: [
        (DerivedVariant.sentryIssueFatal, "issue.created", ["sentry-issue-task", "sentry-fatal-to-agent"]),
        (.sentryIssueResolved, "issue.resolved", ["sentry-issue-resolved"]),
        (.sentryIssueUnresolved, "issue.unresolved", ["sentry-issue-regressed"]),
    ])
    func sentryDerivedIssueEvents(variant: DerivedVariant, type: String, rules: [String]) throws {
        let body = try variant.bytes()
        let p = try Self.planner("sentry", secrets: [Self.sentrySecret])
        let event = try Self.plan(p, Self.request(Self.sentryHeaders(resource: "issue", body: body), body))
        #expect(event.type == type)
        #expect(event.jobs.map(\.ruleId) == rules)
        #expect(event.jobs.allSatisfy { $0.orderingKey == "sentry-issue:1170820242" })
    }

    @Test(arguments: [
        ("event_alert", "sentry/event_alert.triggered", "event_alert.triggered", ["sentry-alert-task"]),
        ("metric_alert", "sentry/metric_alert.resolved", "metric_alert.resolved", []),
        ("error", "sentry/error.created", "error.created", []),
        ("comment", "sentry/comment.created", "comment.created", []),
        ("installation", "sentry/installation.created", "installation.created", []),
    ])
    func sentryTypeComesFromTheResourceHeader(resource: String, fixture: String, type: String, rules: [String]) throws {
        let body = Fixtures.bytes(fixture)
        let p = try Self.planner("sentry", secrets: [Self.sentrySecret])
        let event = try Self.plan(p, Self.request(Self.sentryHeaders(resource: resource, body: body), body))
        #expect(event.type == type)
        #expect(event.jobs.map(\.ruleId) == rules)
        #expect(event.status == (rules.isEmpty ? .unmatched : .planned))
    }

    @Test func sentrySignatureCoversTheExactBytes() throws {
        let raw = Fixtures.bytes("sentry/issue.created")
        let reserialized = JSONWriter.serializeBytes(try JSONParser.parse(raw))
        #expect(reserialized != raw)
        let p = try Self.planner("sentry", secrets: [Self.sentrySecret])
        let mismatch = IngressError.unauthorized("Sentry-Hook-Signature does not match the body for any configured client secret")
        // Body re-serialized after signing, and a signature over a re-serialization.
        #expect(Self.failure(p, Self.request(Self.sentryHeaders(resource: "issue", body: reserialized, signedBytes: raw), reserialized)) == mismatch)
        #expect(Self.failure(p, Self.request(Self.sentryHeaders(resource: "issue", body: raw, signedBytes: reserialized), raw)) == mismatch)
        #expect(Self.failure(p, Self.request(Self.sentryHeaders(resource: "issue", body: raw), raw), rules: try Fixtures.exampleRules()) == nil)
    }

    @Test(arguments: [
        ("Sentry-Hook-Signature", String?.none, IngressError.unauthorized("missing Sentry-Hook-Signature header")),
        ("Sentry-Hook-Signature", "xyz", .unauthorized("malformed Sentry-Hook-Signature header; expected 64 hex digits")),
        ("Sentry-Hook-Resource", nil, .badRequest("missing Sentry-Hook-Resource header")),
        ("Request-ID", nil, .badRequest("missing Request-ID header")),
        ("Request-ID", String(repeating: "r", count: 201), .badRequest("Request-ID header is longer than 200 bytes")),
    ])
    func sentryHeaderProblems(header: String, value: String?, expected: IngressError) throws {
        let body = Fixtures.bytes("sentry/issue.created")
        let p = try Self.planner("sentry", secrets: [Self.sentrySecret])
        #expect(Self.failure(p, Self.request(Self.withHeader(Self.sentryHeaders(resource: "issue", body: body), header, value), body)) == expected)
    }

    @Test func sentryAcceptsOnlyJSON() throws {
        let p = try Self.planner("sentry", secrets: [Self.sentrySecret])
        #expect(p.precheck(HeaderFields([("Content-Type", "application/x-www-form-urlencoded")]))
            == .unsupportedMediaType(#"unsupported Content-Type "application/x-www-form-urlencoded"; send application/json"#))
        #expect(p.precheck(HeaderFields([("content-type", "application/json")])) == nil)
    }

    // MARK: Building blocks

    @Test func formDecoding() throws {
        let pairs = try FormURLEncoding.decode(Array("a=1&b=&c&=d&&e=%41%2b+%2F&f=x=y".utf8))
        #expect(pairs.map(\.0) == ["a", "b", "c", "", "e", "f"])
        #expect(pairs.map(\.1) == ["1", "", "", "d", "A+ /", "x=y"])
        #expect(try FormURLEncoding.decode([]).isEmpty)
        #expect(throws: FormURLEncoding.DecodingError.self) { try FormURLEncoding.decode(Array("a=%4".utf8)) }
        #expect(throws: FormURLEncoding.DecodingError.self) { try FormURLEncoding.decode(Array("a=%ff".utf8)) }
        #expect(try FormURLEncoding.decode(Array("a=%41".utf8)).map(\.1) == ["A"])
    }

    @Test func formEncodingRoundTripsARealPayload() throws {
        let json = String(decoding: Fixtures.bytes("github/pull_request.opened"), as: UTF8.self)
        let encoded = FormURLEncoding.encode([("payload", json), ("x y", "ü&=")])
        #expect(encoded.hasSuffix("&x+y=%C3%BC%26%3D"))
        #expect(encoded.allSatisfy { $0.isASCII && $0 != " " })
        let decoded = try FormURLEncoding.decode(Array(encoded.utf8))
        #expect(decoded.map(\.0) == ["payload", "x y"])
        #expect(decoded.map(\.1) == [json, "ü&="])
    }

    @Test func headerFieldsAreCaseInsensitive() {
        var h = HeaderFields([("X-Forwarded-For", "1.2.3.4"), ("Content-Type", "application/json")])
        h.append("x-forwarded-for", "5.6.7.8")
        #expect(h["x-forwarded-for"] == "1.2.3.4")
        #expect(h["CONTENT-TYPE"] == "application/json")
        #expect(h.all("X-FORWARDED-FOR") == ["1.2.3.4", "5.6.7.8"])
        #expect(h["missing"] == nil)
        #expect(h.map(\.name) == ["x-forwarded-for", "content-type", "x-forwarded-for"])
        #expect(h == HeaderFields([("x-forwarded-for", "1.2.3.4"), ("content-type", "application/json"), ("X-Forwarded-For", "5.6.7.8")]))
        #expect(h != HeaderFields([("x-forwarded-for", "1.2.3.4")]))
    }

    @Test func keptHeadersNeverIncludeSignatures() {
        let all = SourceKind.allCases.flatMap(WebhookAdapters.keptHeaders(for:))
        #expect(!all.contains("x-hub-signature-256"))
        #expect(!all.contains("x-hub-signature"))
        #expect(!all.contains("sentry-hook-signature"))
        #expect(!all.contains("authorization"))
        #expect(WebhookAdapters.keptHeaders(for: .widget) == ["origin", "referer", "user-agent", "content-type", "idempotency-key"])
    }

    @Test func keptHeaderValuesAreCapped() {
        let h = GitHubAdapter().headersOfInterest(HeaderFields([("User-Agent", String(repeating: "u", count: 5000)), ("X-Hub-Signature-256", "sha256=00")]))
        #expect(h == ["user-agent": String(repeating: "u", count: 1024)])
    }

    @Test func ingressErrorDescription() {
        #expect(IngressError.payloadTooLarge("too big").description == "413: too big")
        #expect(IngressError.forbidden("x").status == 403)
        #expect(IngressError.notFound("x").status == 404)
    }
}
