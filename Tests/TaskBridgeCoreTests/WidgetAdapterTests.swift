import Testing
@testable import TaskBridgeCore

/// The website widget: unsigned JSON, `text/plain` and form bodies, field validation,
/// the honeypot and `Idempotency-Key`. Request helpers live in ``AdapterTests``.
@Suite("Widget adapter")
struct WidgetAdapterTests {
    static func widget(_ body: String, contentType: String = "application/json", idempotencyKey: String? = nil,
                       rules: RuleSet? = nil) throws -> PlannedEvent {
        var headers = [("Content-Type", contentType), ("Origin", "http://localhost:3000")]
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        return try AdapterTests.plan(try AdapterTests.planner("widget", secrets: []), AdapterTests.request(headers, Array(body.utf8)), rules: rules)
    }

    static func widgetFailure(_ body: String, contentType: String = "application/json", idempotencyKey: String? = nil) throws -> IngressError? {
        var headers = [("Content-Type", contentType)]
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        return AdapterTests.failure(try AdapterTests.planner("widget", secrets: []), AdapterTests.request(headers, Array(body.utf8)))
    }

    static let adaJSON = #"{"message": "  The checkout button does nothing  ", "email": "ada@example.com", "page": "https://shop.example.com/checkout", "name": "Ada", "website": ""}"#

    @Test func widgetJSONSubmission() throws {
        let event = try Self.widget(Self.adaJSON)
        #expect(event.type == "widget.submitted")
        #expect(event.source == "widget")
        #expect(event.dedupeKey == nil)
        #expect(event.status == .planned)
        #expect(!event.discard)
        #expect(event.jobs == [PlannedJob(ruleId: "widget-feedback-triage", ruleVersion: try AdapterTests.versionHash("widget-feedback-triage"),
                                          target: "groupchat", orderingKey: nil, captures: [:])])
        #expect(event.headers == ["content-type": "application/json", "origin": "http://localhost:3000"])
    }

    @Test(arguments: [
        ("application/json", adaJSON),
        ("text/plain;charset=UTF-8", adaJSON),
        ("application/x-www-form-urlencoded", "message=++The+checkout+button+does+nothing++&email=ada%40example.com&page=https%3A%2F%2Fshop.example.com%2Fcheckout&name=Ada&website="),
    ])
    func widgetBodiesNormalizeToTheSameDocument(contentType: String, body: String) throws {
        let adapter = WidgetAdapter(settings: try #require(try Fixtures.shippedConfig().sources["widget"]?.widget))
        let doc = try adapter.payloadDocument(HeaderFields([("Content-Type", contentType)]), body: Array(body.utf8))
        #expect(String(decoding: doc, as: UTF8.self)
            == #"{"email":"ada@example.com","message":"The checkout button does nothing","name":"Ada","page":"https://shop.example.com/checkout"}"#)
        #expect(try Self.widget(body, contentType: contentType).jobs.map(\.ruleId) == ["widget-feedback-triage"])
    }

    @Test(arguments: [
        (#"{"message": "buy now", "website": "http://spam.example"}"#, "application/json"),
        ("message=buy+now&website=x", "application/x-www-form-urlencoded"),
        (#"{"website": "x"}"#, "application/json"),
    ])
    func filledHoneypotIsDiscarded(body: String, contentType: String) throws {
        for rules in [try Fixtures.exampleRules(), RuleSet.empty] {
            let event = try Self.widget(body, contentType: contentType, rules: rules)
            #expect(event.discard)
            #expect(event.status == .ignored)
            #expect(event.jobs == [])
        }
    }

    @Test func emptyOrNullHoneypotIsHuman() throws {
        #expect(try !Self.widget(#"{"message": "hi", "website": null}"#).discard)
        #expect(try !Self.widget(#"{"message": "hi", "website": ""}"#).discard)
    }

    @Test(arguments: [
        ("form-1234", String?.some("form-1234")),
        ("  padded-key  ", "padded-key"),
        ("   ", nil),
        (String(repeating: "k", count: 255), String(repeating: "k", count: 255)),
    ])
    func idempotencyKeyIsTheDedupeKey(key: String, dedupe: String?) throws {
        #expect(try Self.widget(#"{"message": "hi"}"#, idempotencyKey: key).dedupeKey == dedupe)
    }

    @Test(arguments: ["has space", String(repeating: "k", count: 256), "ключ", "tab\there"])
    func badIdempotencyKeys(key: String) throws {
        #expect(try Self.widgetFailure(#"{"message": "hi"}"#, idempotencyKey: key)
            == .badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters"))
    }

    @Test(arguments: [
        (#"{"message": "x", "mesage": "y"}"#, "application/json",
         #"unknown field "mesage" (did you mean "message"?); accepted fields: message, name, email, page"#),
        (#"{"message": "x", "phone": "1"}"#, "application/json", "unknown field \"phone\"; accepted fields: message, name, email, page"),
        (#"{"message": "\#(String(repeating: "a", count: 5001))"}"#, "application/json", #"field "message" is 5001 characters long; the limit is 5000"#),
        (#"{"message": "x", "name": "\#(String(repeating: "n", count: 201))"}"#, "application/json", #"field "name" is 201 characters long; the limit is 200"#),
        (#"{"message": 5}"#, "application/json", #"field "message" must be a string, found number"#),
        (#"{"message": ["x"]}"#, "application/json", #"field "message" must be a string, found array"#),
        (#"{"name": "Ada"}"#, "application/json", #"field "message" is required and must not be empty"#),
        (#"{"message": "   "}"#, "application/json", #"field "message" is required and must not be empty"#),
        (#"{"message": "hi", "email": "not-an-email"}"#, "application/json", #"field "email" is not an email address"#),
        (#"{"message": "hi", "email": "a@b"}"#, "application/json", #"field "email" is not an email address"#),
        (#"{"message": "hi", "page": "javascript:alert(1)"}"#, "application/json", #"field "page" must be an http(s) URL"#),
        (#"{"message": "a\u0007b"}"#, "application/json", #"field "message" contains control characters"#),
        ("message=a&message=b", "application/x-www-form-urlencoded", #"field "message" is given more than once"#),
        ("message=%E2%82", "application/x-www-form-urlencoded", #"invalid UTF-8 in form body at byte 8 (the value of "message", after percent-decoding): sequence starting with 0xE2 is truncated"#),
        (#"["x"]"#, "application/json", #"body must be a JSON object with at least a "message" field"#),
        (#"{"message": "x""#, "application/json", "body is not valid JSON: malformed JSON at byte 15: unexpected end of input in an object"),
        (#"{"message": [[[[["x"]]]]]}"#, "application/json", "body is not valid JSON: malformed JSON at byte 16: nesting deeper than 4 levels"),
    ])
    func widgetFieldProblems(body: String, contentType: String, message: String) throws {
        #expect(try Self.widgetFailure(body, contentType: contentType) == .badRequest(message))
    }

    @Test func widgetLimitsCountCharactersAfterTrimming() throws {
        let body = #"{"message": "  "# + String(repeating: "é", count: 5000) + #"  \n"}"#
        #expect(try Self.widget(body).status == .planned)
        #expect(try Self.widget(#"{"message": "line one\nline two\ttabbed"}"#).status == .planned)
    }

    @Test func widgetExtraFieldsAndLimits() throws {
        var settings = WidgetSettings()
        settings.extraFields = ["company"]
        settings.fieldLimits["company"] = 5
        settings.honeypotField = nil
        let adapter = WidgetAdapter(settings: settings)
        let headers = HeaderFields([("Content-Type", "application/json")])
        let doc = try adapter.payloadDocument(headers, body: Array(#"{"message": "m", "company": "ACME"}"#.utf8))
        #expect(doc == Array(#"{"company":"ACME","message":"m"}"#.utf8))
        // With the honeypot turned off, its field is just an unknown field.
        do throws(IngressError) {
            _ = try adapter.payloadDocument(headers, body: Array(#"{"message": "m", "website": "x"}"#.utf8))
            Issue.record("expected an unknown-field error")
        } catch {
            #expect(error == .badRequest("unknown field \"website\"; accepted fields: message, name, email, page, company"))
        }
        do throws(IngressError) {
            _ = try adapter.payloadDocument(headers, body: Array(#"{"message": "m", "company": "ACME Corp"}"#.utf8))
            Issue.record("expected a length error")
        } catch {
            #expect(error == .badRequest(#"field "company" is 9 characters long; the limit is 5"#))
        }
    }

    @Test(arguments: [
        ("multipart/form-data; boundary=x", IngressError?.some(.unsupportedMediaType(#"unsupported Content-Type "multipart/form-data; boundary=x"; send application/json or application/x-www-form-urlencoded"#))),
        ("text/plain", nil), ("application/json", nil), ("application/x-www-form-urlencoded", nil),
    ])
    func widgetContentTypes(contentType: String, expected: IngressError?) throws {
        #expect(try AdapterTests.planner("widget", secrets: []).precheck(HeaderFields([("Content-Type", contentType)])) == expected)
    }
}
