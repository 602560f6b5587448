import Testing
@testable import TaskBridgeCore

@Suite("FieldPath")
struct FieldPathTests {
    typealias S = FieldPath.Segment

    @Test(arguments: [
        ("body.action", [S.key("body"), .key("action")], "body.action"),
        ("body.pull_request.head.ref", [.key("body"), .key("pull_request"), .key("head"), .key("ref")], "body.pull_request.head.ref"),
        ("body.labels[0].name", [.key("body"), .key("labels"), .index(0), .key("name")], "body.labels[0].name"),
        ("body.labels[12]", [.key("body"), .key("labels"), .index(12)], "body.labels[12]"),
        ("body.labels[*].name", [.key("body"), .key("labels"), .wildcard, .key("name")], "body.labels[*].name"),
        ("body.a[*][1]", [.key("body"), .key("a"), .wildcard, .index(1)], "body.a[*][1]"),
        (#"body["odd.key"]"#, [.key("body"), .key("odd.key")], #"body["odd.key"]"#),
        (#"body["with \"quote\""].x"#, [.key("body"), .key("with \"quote\""), .key("x")], #"body["with \"quote\""].x"#),
        (#"body["back\\slash"]"#, [.key("body"), .key("back\\slash")], #"body["back\\slash"]"#),
        (#"body["plain"]"#, [.key("body"), .key("plain")], "body.plain"),
        (#"body[""]"#, [.key("body"), .key("")], #"body[""]"#),
        ("headers.x-github-event", [.key("headers"), .key("x-github-event")], "headers.x-github-event"),
        ("body.$honeypot", [.key("body"), .key("$honeypot")], "body.$honeypot"),
        ("body.user@host", [.key("body"), .key("user@host")], "body.user@host"),
    ])
    func parses(text: String, segments: [S], description: String) throws {
        let path = try FieldPath(parsing: text)
        #expect(path.segments == segments)
        #expect(path.description == description)
        // The description parses back to the same path.
        #expect(try FieldPath(parsing: path.description) == path)
    }

    @Test func rootAndTail() throws {
        let p = try FieldPath(parsing: "body.pull_request.head.ref")
        #expect(p.root == "body")
        #expect(Array(p.tail) == [.key("pull_request"), .key("head"), .key("ref")])
        #expect(FieldPath(segments: [.index(0)]).root == "")
    }

    @Test(arguments: [
        ("", "path is empty"),
        ("body.", "path ends with \".\""),
        ("body..a", "unexpected \".\" at position 6"),
        (".body", "unexpected \".\" at position 1"),
        ("[0]", "unexpected \"[\" at position 1"),
        ("body a", "unexpected \" \" at position 5"),
        ("body.a b", "unexpected \" \" at position 7"),
        ("body.é", "unexpected \"é\" at position 6"),
        ("body[", "unclosed \"[\""),
        ("body[x]", "expected an index, \"*\" or a quoted key after \"[\" at position 6"),
        ("body[-1]", "expected an index, \"*\" or a quoted key after \"[\" at position 6"),
        ("body[]", "expected an index, \"*\" or a quoted key after \"[\" at position 6"),
        ("body[99999999999999999999]", "expected an index, \"*\" or a quoted key after \"[\" at position 6"),
        ("body[1", "expected \"]\" at position 7"),
        ("body[1x]", "expected \"]\" at position 7"),
        ("body[*", "expected \"]\" at position 7"),
        (#"body["abc"#, "unclosed quoted key"),
        (#"body["abc"x"#, "expected \"]\" at position 11"),
        ("body]", "unexpected \"]\" at position 5"),
    ])
    func rejects(text: String, reason: String) {
        #expect(throws: FieldPathError(path: text, reason: reason)) {
            try FieldPath(parsing: text)
        }
    }

    @Test func errorDescription() {
        #expect(FieldPathError(path: "body..a", reason: "unexpected \".\" at position 6").description
            == #"invalid path "body..a": unexpected "." at position 6"#)
    }

    // MARK: Resolution over a real payload

    @Test(arguments: [
        ("body.action", JSONValue.string("opened")),
        ("body.number", .number(2)),
        ("body.pull_request.head.ref", .string("changes")),
        ("body.pull_request.draft", .bool(false)),
        ("body.pull_request.merged_at", .null),
        ("body.pull_request.labels[0].name", .string("bug")),
        ("body.pull_request.labels[*].name", .array(["bug"])),
        ("body.pull_request.requested_reviewers[*].login", .array(["octocat"])),
        ("body.pull_request.requested_reviewers[0].login", .string("octocat")),
        ("body.repository.owner.login", .string("Codertocat")),
        // A wildcard skips elements that lack the rest of the path.
        ("body.pull_request.labels[*].missing", .array([])),
    ])
    func resolvesInARealPayload(text: String, expected: JSONValue) throws {
        let body = try Fixtures.json("github/pull_request.opened")
        #expect(try FieldPath(parsing: text).resolveTail(in: body) == expected)
    }

    @Test(arguments: [
        "body.missing", "body.pull_request.labels[1].name", "body.pull_request.labels.name",
        "body.action.length", "body.action[0]", "body.pull_request[*]", "body.number.x",
    ])
    func yieldsNoValue(text: String) throws {
        let body = try Fixtures.json("github/pull_request.opened")
        #expect(try FieldPath(parsing: text).resolveTail(in: body) == nil)
    }

    @Test func nestedWildcardsCollectPerElement() throws {
        let doc: JSONValue = ["rows": [["cells": [1, 2]], ["cells": [3]], ["other": true]]]
        #expect(try FieldPath(parsing: "body.rows[*].cells[*]").resolveTail(in: doc) == [[1, 2], [3]])
        #expect(try FieldPath(parsing: "body.rows[*].cells[0]").resolveTail(in: doc) == [1, 3])
        #expect(try FieldPath(parsing: #"body["rows"][1]"#).resolveTail(in: doc) == ["cells": [3]])
    }

    @Test func quotedKeysReachKeysThatAreNotIdentifiers() throws {
        let doc: JSONValue = ["a.b": 1, "a": ["b": 2], "sp ace": "x"]
        #expect(try FieldPath(parsing: #"body["a.b"]"#).resolveTail(in: doc) == 1)
        #expect(try FieldPath(parsing: "body.a.b").resolveTail(in: doc) == 2)
        #expect(try FieldPath(parsing: #"body["sp ace"]"#).resolveTail(in: doc) == "x")
    }
}
