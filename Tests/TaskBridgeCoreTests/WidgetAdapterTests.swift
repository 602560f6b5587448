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
        (#"{"message": "a\u0007b"}"#, "application/json", #"field "message" contains a control character (U+0007) at character 2"#),
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

    /// Limits count Unicode scalars, so combining marks cannot hide in one "character".
    @Test func widgetLimitsCountUnicodeScalarsNotGraphemes() throws {
        let zalgo = "a" + String(repeating: "\u{0301}", count: 30_000)
        #expect(zalgo.count == 1)
        #expect(try Self.widgetFailure(#"{"message": "\#(zalgo)"}"#) == .badRequest(#"field "message" is 30001 characters long; the limit is 5000"#))
        let atLimit = "a" + String(repeating: "\u{0301}", count: 4_999)
        #expect(try Self.widget(#"{"message": "\#(atLimit)"}"#).status == .planned)
        // 101 decomposed "é" (e + U+0301) are 202 scalars against name's 200.
        let name = String(repeating: "e\u{0301}", count: 101)
        #expect(try Self.widgetFailure(#"{"message": "hi", "name": "\#(name)"}"#) == .badRequest(#"field "name" is 202 characters long; the limit is 200"#))
    }

    @Test(arguments: [
        ("\u{202A}", "a bidirectional override or isolate (U+202A)"), ("\u{202B}", "a bidirectional override or isolate (U+202B)"),
        ("\u{202C}", "a bidirectional override or isolate (U+202C)"), ("\u{202D}", "a bidirectional override or isolate (U+202D)"),
        ("\u{202E}", "a bidirectional override or isolate (U+202E)"), ("\u{2066}", "a bidirectional override or isolate (U+2066)"),
        ("\u{2067}", "a bidirectional override or isolate (U+2067)"), ("\u{2068}", "a bidirectional override or isolate (U+2068)"),
        ("\u{2069}", "a bidirectional override or isolate (U+2069)"),
        ("\u{2028}", "a line separator (U+2028)"), ("\u{2029}", "a paragraph separator (U+2029)"),
        ("\u{0085}", "a control character (U+0085)"), ("\u{009B}", "a control character (U+009B)"),
        ("\u{007F}", "a control character (U+007F)"), ("\u{0000}", "a control character (U+0000)"),
        ("\u{001B}", "a control character (U+001B)"),
    ])
    func invisibleCharactersAreRefusedNamingTheField(scalar: String, what: String) throws {
        // Written as JSON escapes, the way a script would send them.
        let escaped = scalar.unicodeScalars.map { "\\u" + String(repeating: "0", count: 4 - String($0.value, radix: 16).count) + String($0.value, radix: 16) }.joined()
        #expect(try Self.widgetFailure(#"{"message": "pay \#(escaped)gro.live"}"#) == .badRequest("field \"message\" contains \(what) at character 5"))
        #expect(try Self.widgetFailure(#"{"message": "hi", "name": "Ada\#(escaped)Lovelace"}"#) == .badRequest("field \"name\" contains \(what) at character 4"))
        // Form bodies are checked the same way.
        let form = "message=hi&page=" + FormURLEncoding.escape("https://example.com/" + scalar + "x")
        #expect(try Self.widgetFailure(form, contentType: "application/x-www-form-urlencoded")
            == .badRequest("field \"page\" contains \(what) at character 21"))
    }

    @Test func lineBreaksAndTabsOnlyInMessage() throws {
        #expect(try Self.widget(#"{"message": "line one\nline two\ttabbed"}"#).status == .planned)
        #expect(try Self.widgetFailure(#"{"message": "hi", "name": "Ada\nLovelace"}"#)
            == .badRequest(#"field "name" contains a control character (U+000A) at character 4"#))
        #expect(try Self.widgetFailure(#"{"message": "hi", "name": "Ada\tLovelace"}"#)
            == .badRequest(#"field "name" contains a control character (U+0009) at character 4"#))
        #expect(try Self.widgetFailure(#"{"message": "hi", "name": "Ada\rLovelace"}"#)
            == .badRequest(#"field "name" contains a control character (U+000D) at character 4"#))
        // A form's textarea sends CRLF; the message keeps LF.
        let adapter = WidgetAdapter(settings: WidgetSettings())
        let doc = try adapter.payloadDocument(HeaderFields([("Content-Type", "application/x-www-form-urlencoded")]),
                                              body: Array("message=line+one%0D%0Aline+two%0Dthree".utf8))
        #expect(String(decoding: doc, as: UTF8.self) == #"{"message":"line one\nline two\nthree"}"#)
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
