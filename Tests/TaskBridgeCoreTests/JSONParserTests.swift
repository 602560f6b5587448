import Testing
@testable import TaskBridgeCore

@Suite("JSONParser")
struct JSONParserTests {
    // MARK: Valid documents

    @Test func parsesEveryKindOfValue() throws {
        let v = try JSONParser.parse(#" { "s": "x", "n": -12.5e1, "i": 42, "t": true, "f": false, "z": null, "a": [1, [], {}], "o": {"k": "v"} } "#)
        #expect(v == .object([
            "s": .string("x"), "n": .number(-125), "i": .number(42), "t": .bool(true), "f": .bool(false),
            "z": .null, "a": .array([.number(1), .array([]), .object([:])]), "o": .object(["k": .string("v")]),
        ]))
    }

    @Test(arguments: [
        ("0", 0.0), ("-0", -0.0), ("1.5", 1.5), ("1e3", 1000.0), ("1E+2", 100.0), ("25e-1", 2.5),
        ("-7", -7.0), ("123456789012", 123_456_789_012.0),
    ])
    func parsesNumbers(text: String, expected: Double) throws {
        #expect(try JSONParser.parse(text) == .number(expected))
    }

    @Test(arguments: [
        (#""a\"b\\c\/d""#, "a\"b\\c/d"),
        (#""\b\f\n\r\t""#, "\u{08}\u{0C}\n\r\t"),
        (#""\u00e9\u0041""#, "éA"),
        (#""caf\u00E9""#, "café"),
        (#""\ud83d\ude00""#, "😀"),
        ("\"raw ü 😀\"", "raw ü 😀"),
    ])
    func decodesStringEscapes(text: String, expected: String) throws {
        #expect(try JSONParser.parse(text) == .string(expected))
    }

    @Test(arguments: [
        (#""\uD800""#, "\u{FFFD}"),
        (#""\uDE00""#, "\u{FFFD}"),
        (#""a\uD83Db""#, "a\u{FFFD}b"),
        (#""\uD83D\u0041""#, "\u{FFFD}A"),
        (#""\uD83D\uD83D""#, "\u{FFFD}\u{FFFD}"),
    ])
    func loneSurrogatesBecomeReplacementCharacters(text: String, expected: String) throws {
        #expect(try JSONParser.parse(text) == .string(expected))
    }

    @Test func loneSurrogateInsideASkippedSubtreeIsAccepted() throws {
        let v = try JSONParser.parse(#"{"keep": 1, "skip": "\uD800"}"#, keeping: trie(["keep"]))
        #expect(v == .object(["keep": .number(1)]))
    }

    @Test func duplicateKeysKeepTheLastValue() throws {
        #expect(try JSONParser.parse(#"{"a": 1, "a": 2}"#) == .object(["a": .number(2)]))
    }

    // MARK: Malformed input

    struct Malformed: Sendable, CustomTestStringConvertible {
        let input: String
        let offset: Int
        let reason: String
        var testDescription: String { input.debugDescription }
    }

    static let malformed: [Malformed] = [
        // Truncated
        .init(input: "", offset: 0, reason: "unexpected end of input, expected a value"),
        .init(input: "   ", offset: 3, reason: "unexpected end of input, expected a value"),
        .init(input: #"{"a": 1"#, offset: 7, reason: "unexpected end of input in an object"),
        .init(input: #"{"a": "#, offset: 6, reason: "unexpected end of input, expected a value"),
        .init(input: #"{"a""#, offset: 4, reason: "unexpected end of input, expected \":\""),
        .init(input: "{", offset: 1, reason: "unexpected end of input in an object"),
        .init(input: "[1, 2", offset: 5, reason: "unexpected end of input in an array"),
        .init(input: #""abc"#, offset: 4, reason: "unterminated string"),
        .init(input: #""abc\"#, offset: 5, reason: "unterminated string"),
        .init(input: "tru", offset: 0, reason: "unexpected end of input"),
        // Structure
        .init(input: #"{"a" 1}"#, offset: 5, reason: "expected \":\", found \"1\""),
        .init(input: "{a: 1}", offset: 1, reason: "expected an object key, found \"a\""),
        .init(input: #"{"a":1,}"#, offset: 7, reason: "expected an object key, found \"}\""),
        .init(input: #"{"a":1 "b":2}"#, offset: 7, reason: "expected \",\" or \"}\", found \"\"\""),
        .init(input: "[1 2]", offset: 3, reason: "expected \",\" or \"]\", found \"2\""),
        .init(input: "[1,]", offset: 3, reason: "unexpected \"]\", expected a value"),
        .init(input: "trux", offset: 0, reason: "invalid literal, expected \"true\""),
        .init(input: "nul", offset: 0, reason: "unexpected end of input"),
        .init(input: "NaN", offset: 0, reason: "unexpected \"N\", expected a value"),
        // Trailing data
        .init(input: "{} x", offset: 3, reason: "unexpected data after the JSON value"),
        .init(input: "{}{}", offset: 2, reason: "unexpected data after the JSON value"),
        .init(input: "1 2", offset: 2, reason: "unexpected data after the JSON value"),
        .init(input: "01", offset: 1, reason: "unexpected data after the JSON value"),
        // Bad escapes
        .init(input: #""\x""#, offset: 2, reason: "invalid escape sequence in a string"),
        .init(input: #""ab\'""#, offset: 4, reason: "invalid escape sequence in a string"),
        .init(input: #""\u12G4""#, offset: 5, reason: "invalid \\u escape"),
        .init(input: #""\u12""#, offset: 3, reason: "truncated \\u escape"),
        .init(input: #""\uD83D\uZZZZ""#, offset: 9, reason: "invalid \\u escape"),
        // Control characters
        .init(input: "\"a\u{01}b\"", offset: 2, reason: "unescaped control character in a string"),
        .init(input: "\"tab\there\"", offset: 4, reason: "unescaped control character in a string"),
        .init(input: "\"x\\n\nnew\"", offset: 4, reason: "unescaped control character in a string"),
        // Bad numbers
        .init(input: "-", offset: 0, reason: "unexpected \"-\", expected a value"),
        .init(input: "1.", offset: 2, reason: "invalid number"),
        .init(input: "1.e5", offset: 2, reason: "invalid number"),
        .init(input: "1e", offset: 2, reason: "invalid number"),
        .init(input: "1e+", offset: 3, reason: "invalid number"),
        .init(input: ".5", offset: 0, reason: "unexpected \".\", expected a value"),
        .init(input: "+1", offset: 0, reason: "unexpected \"+\", expected a value"),
        .init(input: "[-]", offset: 1, reason: "unexpected \"-\", expected a value"),
        .init(input: "\u{00}", offset: 0, reason: "unexpected byte 0x0, expected a value"),
    ]

    @Test(arguments: malformed)
    func rejectsMalformedInput(_ c: Malformed) {
        #expect(throws: JSONParseError(offset: c.offset, reason: c.reason)) {
            try JSONParser.parse(c.input)
        }
    }

    /// Partial parsing skips subtrees but must reject the same malformed documents.
    @Test(arguments: malformed)
    func rejectsMalformedInputInsideASkippedSubtree(_ c: Malformed) throws {
        // Wrap the bad input as the value of an unrequested key; the reason must match a
        // full parse of the same wrapped document (the skipper validates like the parser).
        let wrapped = #"{"keep": 1, "skip": "# + c.input + "}"
        let f = try #require(Self.failure(wrapped, keeping: .everything))
        let p = try #require(Self.failure(wrapped, keeping: trie(["keep"])))
        #expect(p == f)
    }

    static func failure(_ text: String, keeping t: PathTrie) -> JSONParseError? {
        do throws(JSONParseError) {
            _ = try JSONParser.parse(text, keeping: t)
            return nil
        } catch {
            return error
        }
    }

    @Test func errorDescriptionNamesTheByteOffset() {
        #expect(JSONParseError(offset: 7, reason: "unexpected end of input in an object").description
            == "malformed JSON at byte 7: unexpected end of input in an object")
    }

    // MARK: Depth limit

    @Test func depthLimitBoundary() throws {
        // The root is depth 0, so maxDepth 3 allows four nested arrays and refuses five.
        #expect(try JSONParser.parse(Array("[[[[]]]]".utf8), maxDepth: 3) == .array([.array([.array([.array([])])])]))
        #expect(throws: JSONParseError(offset: 4, reason: "nesting deeper than 3 levels")) {
            try JSONParser.parse(Array("[[[[[]]]]]".utf8), maxDepth: 3)
        }
        #expect(throws: JSONParseError(offset: 20, reason: "nesting deeper than 3 levels")) {
            try JSONParser.parse(Array(#"{"a":{"b":{"c":{"d":1}}}}"#.utf8), maxDepth: 3)
        }
    }

    @Test func hostileNestingIsRefusedWithoutCrashing() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError(offset: 201, reason: "nesting deeper than 200 levels")) {
            try JSONParser.parse(deep)
        }
        // The skipper has the same limit.
        let wrapped = #"{"skip": "# + deep + "}"
        #expect(throws: JSONParseError(offset: 209, reason: "nesting deeper than 200 levels")) {
            try JSONParser.parse(Array(wrapped.utf8), keeping: PathTrie())
        }
    }

    // MARK: Partial parsing

    static let requestedPaths: [String] = [
        "action", "number", "zen", "hook_id",
        "pull_request.draft", "pull_request.merged", "pull_request.head.ref", "pull_request.title",
        "pull_request.body", "pull_request.labels[*].name", "pull_request.requested_reviewers[0].login",
        "repository.full_name", "repository.owner", "commits[*].id", "commits[0].author.name", "head_commit.message",
        "data.issue.id", "data.issue.level", "data.issue.project.slug", "data.issue.title", "data.issue.metadata",
        "data.event.title", "data.event.issue_id", "data.event.tags[*]", "data.triggered_rule",
        "data.metric_alert.alert_rule.triggers[*].actions[*].type", "data.comment", "installation",
        "sender.login", "nothing.here.at.all", "action.not_an_object", "pull_request.labels.name",
    ]

    static func trie(_ paths: [String]) -> PathTrie {
        var t = PathTrie()
        for p in paths { t.insert(try! FieldPath(parsing: "body." + p).tail) }
        return t
    }
    func trie(_ paths: [String]) -> PathTrie { Self.trie(paths) }

    @Test(arguments: Fixtures.all)
    func partialParseAgreesWithFullParseAtEveryRequestedPath(_ fixture: String) throws {
        let bytes = Fixtures.bytes(fixture)
        let full = try JSONParser.parse(bytes)
        let partial = try JSONParser.parse(bytes, keeping: trie(Self.requestedPaths))
        for text in Self.requestedPaths {
            let path = try FieldPath(parsing: "body." + text)
            #expect(path.resolveTail(in: partial) == path.resolveTail(in: full), "\(fixture): \(text)")
        }
        // Nothing outside the requested paths was materialized.
        let allowed = Self.requestedPaths.map { $0.replacingOccurrences(of: "[*]", with: "[]").replacingOccurrences(of: "[0]", with: "[]") }
        for present in Self.keyPaths(partial, prefix: "") {
            let ok = allowed.contains { requested in
                requested == present || requested.hasPrefix(present + ".") || requested.hasPrefix(present + "[")
                    || present.hasPrefix(requested + ".") || present.hasPrefix(requested + "[")
            }
            #expect(ok, "\(fixture): unrequested \(present) was kept")
        }
    }

    /// Every object member path in `v`, with array indices written `[]`.
    static func keyPaths(_ v: JSONValue, prefix: String) -> [String] {
        switch v {
        case .object(let members):
            return members.flatMap { key, child in
                let p = prefix.isEmpty ? key : prefix + "." + key
                return [p] + keyPaths(child, prefix: p)
            }
        case .array(let items):
            return items.flatMap { keyPaths($0, prefix: prefix + "[]") }
        default:
            return []
        }
    }

    @Test func partialParseKeepsExactlyTheRequestedSubtrees() throws {
        let bytes = Fixtures.bytes("github/pull_request.opened")
        let v = try JSONParser.parse(bytes, keeping: trie(["action", "pull_request.head.ref", "pull_request.labels[*].name", "number"]))
        #expect(v == .object([
            "action": "opened",
            "number": 2,
            "pull_request": .object([
                "head": .object(["ref": "changes"]),
                "labels": .array([.object(["name": "bug"])]),
            ]),
        ]))
    }

    @Test func emptyTrieKeepsNothingButStillValidates() throws {
        #expect(try JSONParser.parse(Fixtures.bytes("sentry/issue.created"), keeping: PathTrie()) == .object([:]))
        #expect(try JSONParser.parse("[1, 2]", keeping: PathTrie()) == .array([]))
        #expect(try JSONParser.parse(#""text""#, keeping: PathTrie()) == .string("text"))
        #expect(throws: JSONParseError(offset: 13, reason: "expected \",\" or \"}\", found \"]\"")) {
            try JSONParser.parse(#"{"a": {"b": 1]}"#, keeping: PathTrie())
        }
    }

    @Test func requestingAParentKeepsItsWholeSubtreeWhateverTheInsertionOrder() throws {
        let doc = #"{"a": {"b": 1, "c": [2, 3]}, "d": 4}"#
        var first = PathTrie()
        first.insert(try FieldPath(parsing: "body.a.b").tail)
        first.insert(try FieldPath(parsing: "body.a").tail)
        var second = PathTrie()
        second.insert(try FieldPath(parsing: "body.a").tail)
        second.insert(try FieldPath(parsing: "body.a.b").tail)
        let expected: JSONValue = .object(["a": .object(["b": 1, "c": [2, 3]])])
        #expect(try JSONParser.parse(doc, keeping: first) == expected)
        #expect(try JSONParser.parse(doc, keeping: second) == expected)
        #expect(first == second)
    }

    @Test func mergingTries() throws {
        var a = trie(["x.y"])
        a.merge(trie(["x.z", "w[*].v"]))
        #expect(try JSONParser.parse(#"{"x": {"y": 1, "z": 2, "q": 3}, "w": [{"v": 1, "u": 2}], "r": 0}"#, keeping: a)
            == .object(["x": .object(["y": 1, "z": 2]), "w": .array([.object(["v": 1])])]))
        var b = PathTrie()
        b.merge(.everything)
        #expect(b.keepAll)
        #expect(PathTrie().isEmpty)
        #expect(!a.isEmpty)
    }

    // MARK: JSONWriter

    @Test(arguments: Fixtures.all)
    func writerRoundTripsEveryFixture(_ fixture: String) throws {
        let value = try Fixtures.json(fixture)
        let text = JSONWriter.serialize(value)
        #expect(try JSONParser.parse(text) == value)
        // Deterministic: serializing the re-parsed value gives the same bytes.
        #expect(JSONWriter.serialize(try JSONParser.parse(text)) == text)
    }

    @Test func writerSortsKeysAndWritesCompactly() {
        let v: JSONValue = ["b": [1, 2.5, true, nil], "a": ["z": "x", "y": [:]], "c": []]
        #expect(JSONWriter.serialize(v) == #"{"a":{"y":{},"z":"x"},"b":[1,2.5,true,null],"c":[]}"#)
        #expect(JSONWriter.serializeBytes(["k": "v"]) == Array(#"{"k":"v"}"#.utf8))
    }

    @Test(arguments: [
        ("plain", "plain"),
        ("quote \" backslash \\", #"quote \" backslash \\"#),
        ("\n\r\t\u{08}\u{0C}", #"\n\r\t\b\f"#),
        ("\u{00}\u{01}\u{1F}", #"\u0000\u0001\u001f"#),
        ("line\u{2028}para\u{2029}", #"line\u2028para\u2029"#),
        ("slash / é 😀", "slash / é 😀"),
    ])
    func writerEscapesStrings(raw: String, escaped: String) throws {
        #expect(JSONWriter.escape(raw) == escaped)
        #expect(JSONWriter.serialize(.string(raw)) == "\"" + escaped + "\"")
        #expect(try JSONParser.parse(JSONWriter.serialize(.string(raw))) == .string(raw))
    }

    @Test(arguments: [
        (42.0, "42"), (-3.0, "-3"), (0.0, "0"), (-0.0, "0"), (2.5, "2.5"), (0.1, "0.1"),
        (123_456_789_012.0, "123456789012"), (1e20, "1e+20"), (-1.5e-7, "-1.5e-07"),
        (Double.infinity, "null"), (Double.nan, "null"),
    ])
    func writerFormatsNumbers(number: Double, text: String) {
        #expect(JSONWriter.format(number: number) == text)
    }

    @Test func textValueOfEachKind() {
        #expect(JSONValue.string("s").textValue == "s")
        #expect(JSONValue.number(7).textValue == "7")
        #expect(JSONValue.bool(false).textValue == "false")
        #expect(JSONValue.null.textValue == "null")
        #expect(JSONValue.array(["a", 1]).textValue == #"["a",1]"#)
        #expect(JSONValue.object(["b": 1, "a": nil]).textValue == #"{"a":null,"b":1}"#)
        #expect(JSONValue.object([:]).typeName == "object")
        #expect(JSONValue.array([]).typeName == "array")
    }
}
