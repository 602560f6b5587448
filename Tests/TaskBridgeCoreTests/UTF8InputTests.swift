import Testing
@testable import TaskBridgeCore

/// JSON text must be UTF-8 (RFC 8259 §8.1), and so must percent-decoded form values:
/// bytes that are not are refused with their offset, never replaced with U+FFFD.
@Suite("UTF-8 input")
struct UTF8InputTests {
    struct Bad: Sendable, CustomTestStringConvertible {
        let bytes: [UInt8]
        let offset: Int
        let reason: String
        var testDescription: String { bytes.map { $0 < 0x80 ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined() }
    }

    static let q = UInt8(ascii: "\"")
    static func string(_ inner: [UInt8]) -> [UInt8] { [q] + inner + [q] }
    static let malformedSequence = "is malformed (a bad continuation byte, an overlong form, a surrogate, or beyond U+10FFFF)"

    static let bad: [Bad] = [
        .init(bytes: string([0xFF]), offset: 1, reason: "0xFF never appears in UTF-8"),
        .init(bytes: string([0x61, 0x80]), offset: 2, reason: "0x80 is a continuation byte without a lead byte"),
        .init(bytes: string([0xC0, 0xAF]), offset: 1, reason: "0xC0 never appears in UTF-8"),
        .init(bytes: string([0xE0, 0x80, 0xAF]), offset: 1, reason: "sequence starting with 0xE0 " + malformedSequence),   // overlong "/"
        .init(bytes: string([0xED, 0xA0, 0x80]), offset: 1, reason: "sequence starting with 0xED " + malformedSequence),   // U+D800
        .init(bytes: string([0xF4, 0x90, 0x80, 0x80]), offset: 1, reason: "sequence starting with 0xF4 " + malformedSequence), // U+110000
        .init(bytes: string([0xC3, 0x28]), offset: 1, reason: "sequence starting with 0xC3 " + malformedSequence),
        .init(bytes: string([0xC3]), offset: 1, reason: "sequence starting with 0xC3 " + malformedSequence),               // cut by the quote
        .init(bytes: [q, 0xE2, 0x82], offset: 1, reason: "sequence starting with 0xE2 is truncated"),
        // Past the eight-bytes-at-a-time fast path, after an escape, and in a key.
        .init(bytes: string(Array("abcdefghijklmnop".utf8) + [0xFE] + Array("q".utf8)), offset: 17, reason: "0xFE never appears in UTF-8"),
        .init(bytes: string(Array(#"a\n"#.utf8) + [0xFF]), offset: 4, reason: "0xFF never appears in UTF-8"),
        .init(bytes: Array(#"{"k"#.utf8) + [0xFF] + Array(#"": 1}"#.utf8), offset: 3, reason: "0xFF never appears in UTF-8"),
    ]

    @Test(arguments: bad)
    func jsonStringsMustBeUTF8(_ c: Bad) {
        let expected = JSONParseError(offset: c.offset, reason: c.reason, kind: .invalidUTF8)
        #expect(throws: expected) { try JSONParser.parse(c.bytes) }
        // The skipper checks the same, inside a subtree no rule reads.
        let wrapped = Array(#"{"keep": 1, "skip": "#.utf8) + c.bytes + Array("}".utf8)
        let full = Self.failure(wrapped, keeping: .everything)
        #expect(full?.kind == .invalidUTF8)
        #expect(full?.offset == c.offset + 20)
        #expect(Self.failure(wrapped, keeping: PathTrie()) == full)
        #expect(expected.description == "invalid UTF-8 at byte \(c.offset): \(c.reason)")
    }

    static func failure(_ bytes: [UInt8], keeping t: PathTrie) -> JSONParseError? {
        do throws(JSONParseError) {
            _ = try JSONParser.parse(bytes, keeping: t)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: ["é", "€", "😀", "\u{D7FF}", "\u{E000}", "\u{FFFD}", "\u{10FFFF}", "mixed ascii, ü and 漢字 and more ascii"])
    func validUTF8IsKept(_ text: String) throws {
        let doc = Self.string(Array(text.utf8))
        #expect(try JSONParser.parse(doc) == .string(text))
        #expect(try JSONParser.parse(Array(#"{"a": "#.utf8) + doc + Array("}".utf8), keeping: PathTrie()) == .object([:]))
        #expect(UTF8Validation.firstInvalidOffset(Array(text.utf8)) == nil)
    }

    /// The validator agrees with the standard library's on every short sequence over the
    /// interesting bytes and on pseudo-random longer ones.
    @Test func validatorAgreesWithTheStandardLibrary() {
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                                    0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        func agrees(_ bytes: [UInt8]) -> Bool {
            (UTF8Validation.firstInvalidOffset(bytes) == nil) == (String(validating: bytes, as: UTF8.self) != nil)
        }
        var disagreements: [[UInt8]] = []
        for a in interesting { for b in interesting { for c in interesting {
            for seq in [[a], [a, b], [a, b, c], [a, b, c, 0x80], [a, b, c, 0xBF]] where !agrees(seq) { disagreements.append(seq) }
        } } }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            var seq: [UInt8] = []
            for _ in 0..<Int(state % 24) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                seq.append(state >> 60 == 0 ? UInt8(truncatingIfNeeded: state >> 32) : UInt8(ascii: "a"))
            }
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            if !agrees(seq) { disagreements.append(seq) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }

    // MARK: Form bodies

    @Test(arguments: [
        (Array("message=%FF".utf8), #"invalid UTF-8 in form body at byte 8 (the value of "message", after percent-decoding): 0xFF never appears in UTF-8"#),
        (Array("message=caf%C3%A9+%E2%82".utf8), #"invalid UTF-8 in form body at byte 18 (the value of "message", after percent-decoding): sequence starting with 0xE2 is truncated"#),
        (Array("name=Ada&message=ok".utf8) + [0xC2], #"invalid UTF-8 in form body at byte 19 (the value of "message", after percent-decoding): sequence starting with 0xC2 is truncated"#),
        (Array("m%C0%AFssage=x".utf8), "invalid UTF-8 in form body at byte 1 (a field name, after percent-decoding): 0xC0 never appears in UTF-8"),
    ])
    func formValuesMustBeUTF8AfterPercentDecoding(body: [UInt8], message: String) throws {
        do throws(FormURLEncoding.DecodingError) {
            _ = try FormURLEncoding.decode(body)
            Issue.record("expected a decoding error")
        } catch {
            #expect(error.invalidUTF8)
            #expect(error.reason == message)
        }
    }

    @Test func percentEscapeErrorsNameTheirBodyOffset() {
        do throws(FormURLEncoding.DecodingError) {
            _ = try FormURLEncoding.decode(Array("message=hi&page=%ZZ".utf8))
            Issue.record("expected a decoding error")
        } catch {
            #expect(!error.invalidUTF8)
            #expect(error.reason == "bad percent-escape at byte 16")
        }
    }

    // MARK: Adapters

    /// A real GitHub delivery with one byte of its title replaced by 0xFF (signed as sent).
    @Test func githubBodyWithInvalidUTF8IsRefusedWithItsOffset() throws {
        let (body, at) = Fixtures.bytes("github/pull_request.opened", replacing: "new information.", with: Array("new inf".utf8) + [0xFF] + Array("rmation.".utf8))
        let p = try AdapterTests.planner("github", secrets: [AdapterTests.githubSecret])
        let error = AdapterTests.failure(p, AdapterTests.request(AdapterTests.githubHeaders(body: body), body))
        #expect(error == .badRequest("invalid UTF-8 in JSON body at byte \(at + 7): 0xFF never appears in UTF-8; JSON text must be UTF-8"))
    }

    /// A real Sentry issue whose title holds a surrogate encoded as UTF-8 (ED A0 80).
    @Test func sentryBodyWithInvalidUTF8IsRefused() throws {
        let (body, at) = Fixtures.bytes("sentry/issue.created", replacing: "blooopy", with: [0xED, 0xA0, 0x80])
        let p = try AdapterTests.planner("sentry", secrets: [AdapterTests.sentrySecret])
        let error = AdapterTests.failure(p, AdapterTests.request(AdapterTests.sentryHeaders(resource: "issue", body: body), body))
        #expect(error?.status == 400)
        #expect(error?.message.hasPrefix("invalid UTF-8 in JSON body at byte \(at): sequence starting with 0xED is malformed") == true)
    }

    @Test(arguments: [
        ("application/json", Array(#"{"message": "caf"#.utf8) + [0xE9] + Array(#""}"#.utf8),
         "invalid UTF-8 in JSON body at byte 16: sequence starting with 0xE9 " + malformedSequence + "; JSON text must be UTF-8"),
        ("text/plain;charset=UTF-8", Array(#"{"message": "x"#.utf8) + [0xFF] + Array(#""}"#.utf8),
         "invalid UTF-8 in JSON body at byte 14: 0xFF never appears in UTF-8; JSON text must be UTF-8"),
        ("application/x-www-form-urlencoded", Array("message=caf%E9".utf8),
         #"invalid UTF-8 in form body at byte 11 (the value of "message", after percent-decoding): sequence starting with 0xE9 is truncated"#),
    ])
    func widgetBodiesWithInvalidUTF8AreRefused(contentType: String, body: [UInt8], message: String) throws {
        let p = try AdapterTests.planner("widget", secrets: [])
        #expect(AdapterTests.failure(p, AdapterTests.request([("Content-Type", contentType)], body)) == .badRequest(message))
    }

    @Test func githubFormPayloadWithInvalidUTF8IsRefused() throws {
        let form = Array("payload=%7B%22action%22%3A%22op%FFened%22%7D".utf8)
        let p = try AdapterTests.planner("github", secrets: [AdapterTests.githubSecret])
        let error = AdapterTests.failure(p, AdapterTests.request(AdapterTests.githubHeaders(body: form, contentType: "application/x-www-form-urlencoded"), form))
        #expect(error == .badRequest(#"invalid UTF-8 in form body at byte 31 (the value of "payload", after percent-decoding): 0xFF never appears in UTF-8"#))
    }
}
